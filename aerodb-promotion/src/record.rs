//! The authority record: the only durable output of promotion (§9). No clock anywhere in it.

use aerodb_core::{Epoch, EpochHistory, EpochStart, NodeId, WalPosition};
use serde::{Deserialize, Serialize};

use crate::checks::AuthorityPlan;
use crate::evidence::Evidence;
use crate::inputs::AuthorityView;
use crate::request::{MAX_REASON_LEN, MAX_REQUEST_ID_LEN, PromotionRequest};

/// Earlier authorities kept in a record; the oldest is dropped beyond this.
pub const HISTORY_CAP: usize = 64;

/// An earlier authority: who led which epoch from where, and the request that made it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PastAuthority {
    /// Its epoch.
    pub epoch: Epoch,
    /// Its primary.
    pub primary: NodeId,
    /// Where its epoch began.
    pub start: WalPosition,
    /// The promotion that made it, force and reason included (P6-A1a); `None` for the
    /// bootstrap, or for an entry written by format 1, which did not keep it.
    pub request: Option<RequestSummary>,
}

/// What force did for the promotion that wrote a record (P6-A1a): asked for, and whether the
/// approval rested on it. Kept durably, in events and in explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Force {
    /// Force was not requested.
    NotRequested,
    /// Force was requested, but the old primary's state was known: the decision did not rest on it.
    RequestedUnused,
    /// Force was requested and the approval rested on it: the old primary's state could not be
    /// observed, and the operator asserted it was down.
    CarriedTheDecision,
    /// Force was requested; the record (format 1) did not keep whether it carried the decision.
    RequestedUnrecorded,
}

impl Force {
    /// From whether force was requested and whether the approval rested on it.
    pub const fn of(requested: bool, carried: bool) -> Self {
        match (requested, carried) {
            (false, _) => Force::NotRequested,
            (true, false) => Force::RequestedUnused,
            (true, true) => Force::CarriedTheDecision,
        }
    }

    /// Whether force was requested.
    pub const fn requested(self) -> bool {
        !matches!(self, Force::NotRequested)
    }

    /// Stable snake_case name, as events and explanations print it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Force::NotRequested => "not_requested",
            Force::RequestedUnused => "requested_unused",
            Force::CarriedTheDecision => "carried_the_decision",
            Force::RequestedUnrecorded => "requested_unrecorded",
        }
    }
}

impl std::fmt::Display for Force {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the promotion that wrote a record was asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestSummary {
    /// The promoted candidate.
    pub candidate: NodeId,
    /// Whether force was requested and whether it carried the decision (P6-A1a).
    pub force: Force,
    /// The operator's reason.
    pub reason: Option<String>,
    /// The caller's request id.
    pub request_id: Option<String>,
    /// The evidence the approval rested on; `None` for a bootstrap or start-over, or for an
    /// entry written by format 1 or 2, which did not keep it.
    pub evidence: Option<Evidence>,
}

/// Who holds write authority, from which epoch and WAL position, and how it got there.
///
/// Every value is checked on construction and on decoding: epochs rise, the history is
/// bounded and consistent with the current epoch, text fields are within their limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RecordBody", into = "RecordBody")]
pub struct AuthorityRecord {
    body: RecordBody,
    epochs: EpochHistory,
}

/// The serialized fields, in on-disk order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RecordBody {
    pub(crate) epoch: Epoch,
    pub(crate) primary: NodeId,
    pub(crate) previous_primary: Option<NodeId>,
    pub(crate) start: WalPosition,
    pub(crate) history: Vec<PastAuthority>,
    pub(crate) request: Option<RequestSummary>,
}

/// A record that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The history has more than [`HISTORY_CAP`] entries.
    #[error("authority history has {0} entries; at most {HISTORY_CAP} are kept")]
    HistoryTooLong(usize),
    /// Epochs do not strictly rise up to the current one, or starts go back.
    #[error("authority history is inconsistent: {0}")]
    History(aerodb_core::HistoryError),
    /// A later authority must have a previous primary, and it must be the last history entry's.
    #[error("previous primary does not match the history")]
    PreviousPrimary,
    /// The request summary's text is over its limits.
    #[error("request summary text exceeds its limits")]
    RequestText,
    /// The epoch cannot be raised further.
    #[error("authority epoch {0} cannot be raised further")]
    EpochExhausted(Epoch),
}

impl From<aerodb_core::HistoryError> for RecordError {
    fn from(error: aerodb_core::HistoryError) -> Self {
        RecordError::History(error)
    }
}

impl TryFrom<RecordBody> for AuthorityRecord {
    type Error = RecordError;

    fn try_from(body: RecordBody) -> Result<Self, RecordError> {
        if body.history.len() > HISTORY_CAP {
            return Err(RecordError::HistoryTooLong(body.history.len()));
        }
        let mut points: Vec<EpochStart> =
            body.history.iter().map(|p| EpochStart { epoch: p.epoch, start: p.start.lsn }).collect();
        points.push(EpochStart { epoch: body.epoch, start: body.start.lsn });
        let epochs = EpochHistory::new(points)?;
        if body.previous_primary != body.history.last().map(|p| p.primary) {
            return Err(RecordError::PreviousPrimary);
        }
        let too_long = |t: &Option<String>, max: usize| t.as_ref().is_some_and(|t| t.len() > max);
        let requests = body.history.iter().filter_map(|p| p.request.as_ref()).chain(body.request.as_ref());
        for r in requests {
            if too_long(&r.reason, MAX_REASON_LEN) || too_long(&r.request_id, MAX_REQUEST_ID_LEN) {
                return Err(RecordError::RequestText);
            }
        }
        Ok(AuthorityRecord { body, epochs })
    }
}

impl From<AuthorityRecord> for RecordBody {
    fn from(record: AuthorityRecord) -> Self {
        record.body
    }
}

impl RequestSummary {
    /// What `request` asked, before any approval: no evidence, force not carrying anything.
    pub fn asked(request: &PromotionRequest) -> Self {
        RequestSummary {
            candidate: request.candidate(),
            force: Force::of(request.force(), false),
            reason: request.reason().map(str::to_owned),
            request_id: request.request_id().map(str::to_owned),
            evidence: None,
        }
    }

    /// The durable summary of `request`, approved on `plan`'s evidence.
    pub fn of(request: &PromotionRequest, plan: &AuthorityPlan) -> Self {
        RequestSummary {
            candidate: request.candidate(),
            force: Force::of(request.force(), plan.force_asserted()),
            reason: request.reason().map(str::to_owned),
            request_id: request.request_id().map(str::to_owned),
            evidence: Some(plan.evidence),
        }
    }
}

impl AuthorityRecord {
    /// The first authority: `primary` at [`Epoch::INITIAL`], starting at the beginning of the WAL.
    pub fn bootstrap(primary: NodeId) -> Self {
        let start = WalPosition::new(Epoch::INITIAL, aerodb_core::Lsn::ZERO);
        let body = RecordBody {
            epoch: Epoch::INITIAL,
            primary,
            previous_primary: None,
            start,
            history: Vec::new(),
            request: None,
        };
        AuthorityRecord { body, epochs: EpochHistory::initial(Epoch::INITIAL) }
    }

    /// A first authority again, after a real loss and only by an operator's explicit command:
    /// `primary` at `epoch`, its epoch beginning at `start`, no earlier history, and the
    /// operator's reason as the request. What a store's start-over writes, made by
    /// [`start_over_record`](crate::start_over_record), which places `epoch` above all the store
    /// ever held (P6-A1).
    pub(crate) fn started_over(
        primary: NodeId,
        epoch: Epoch,
        start: WalPosition,
        reason: &str,
    ) -> Result<Self, RecordError> {
        let request = RequestSummary {
            candidate: primary,
            force: Force::NotRequested,
            reason: Some(reason.to_owned()),
            request_id: None,
            evidence: None,
        };
        AuthorityRecord::try_from(RecordBody {
            epoch,
            primary,
            previous_primary: None,
            start,
            history: Vec::new(),
            request: Some(request),
        })
    }

    /// The record an approved `plan` makes durable after this one: epoch + 1, history extended
    /// (oldest dropped beyond [`HISTORY_CAP`]).
    pub(crate) fn succeeded_by(
        &self,
        plan: &AuthorityPlan,
        request: RequestSummary,
    ) -> Result<Self, RecordError> {
        let epoch = self.body.epoch.next().ok_or(RecordError::EpochExhausted(self.body.epoch))?;
        let mut history = self.body.history.clone();
        history.push(PastAuthority {
            epoch: self.body.epoch,
            primary: self.body.primary,
            start: self.body.start,
            request: self.body.request.clone(),
        });
        // The history was within the cap and grew by one: at most the oldest entry goes.
        if history.len() > HISTORY_CAP {
            history.remove(0);
        }
        AuthorityRecord::try_from(RecordBody {
            epoch,
            primary: plan.primary,
            previous_primary: Some(self.body.primary),
            start: plan.start,
            history,
            request: Some(request),
        })
    }

    /// The current epoch.
    pub fn epoch(&self) -> Epoch {
        self.body.epoch
    }
    /// The primary holding write authority.
    pub fn primary(&self) -> NodeId {
        self.body.primary
    }
    /// The primary this one replaced, if any.
    pub fn previous_primary(&self) -> Option<NodeId> {
        self.body.previous_primary
    }
    /// Where this authority's epoch began.
    pub fn start(&self) -> WalPosition {
        self.body.start
    }
    /// Earlier authorities, oldest first, at most [`HISTORY_CAP`].
    pub fn history(&self) -> &[PastAuthority] {
        &self.body.history
    }
    /// The request that produced this record; `None` for a bootstrap.
    pub fn request(&self) -> Option<&RequestSummary> {
        self.body.request.as_ref()
    }
    /// The authoritative epoch history (retained part).
    pub fn epoch_history(&self) -> &EpochHistory {
        &self.epochs
    }
    /// The fields as they are serialized.
    pub(crate) fn body(&self) -> &RecordBody {
        &self.body
    }

    /// The authority as the validator reads it.
    pub fn view(&self) -> AuthorityView {
        AuthorityView { primary: self.body.primary, history: self.epochs.clone() }
    }
}

impl std::fmt::Display for RequestSummary {
    /// `candidate node-1, force=…, reason="…", request_id=…`; absent texts read `none`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "candidate {}, force={}, reason=", self.candidate, self.force)?;
        match &self.reason {
            Some(reason) => write!(f, "{reason:?}")?,
            None => f.write_str("none")?,
        }
        write!(f, ", request_id={}", self.request_id.as_deref().unwrap_or("none"))?;
        match &self.evidence {
            Some(evidence) => write!(f, ", evidence: {evidence}"),
            None => Ok(()),
        }
    }
}

impl std::fmt::Display for AuthorityRecord {
    /// The record as an operator reads it: the current authority, then every earlier one,
    /// newest first, each with the request that made it. Positions read `epoch/lsn`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "epoch:            {}", self.epoch())?;
        writeln!(f, "primary:          {}", self.primary())?;
        match self.previous_primary() {
            Some(previous) => writeln!(f, "previous primary: {previous}")?,
            None => writeln!(f, "previous primary: none")?,
        }
        writeln!(f, "start position:   {}", self.start())?;
        match self.request() {
            Some(request) => writeln!(f, "made by:          {request}")?,
            None => writeln!(f, "made by:          bootstrap")?,
        }
        writeln!(f, "earlier authorities (newest first):")?;
        if self.history().is_empty() {
            writeln!(f, "  none")?;
        }
        for past in self.history().iter().rev() {
            write!(f, "  epoch {} primary {} from {}, made by ", past.epoch, past.primary, past.start)?;
            match &past.request {
                Some(request) => writeln!(f, "{request}")?,
                None => writeln!(f, "bootstrap (or not recorded by format 1)")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aerodb_core::Lsn;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    fn plan_for(record: &AuthorityRecord, primary: &str, lsn: u64) -> AuthorityPlan {
        let new_epoch = record.epoch().next().unwrap();
        AuthorityPlan {
            basis_epoch: record.epoch(),
            new_epoch,
            primary: id(primary),
            previous_primary: record.primary(),
            start: WalPosition::new(record.epoch(), Lsn::new(lsn)),
            history: record.epoch_history().extended(new_epoch, Lsn::new(lsn)).unwrap(),
            evidence: Evidence {
                acknowledged: WalPosition::new(record.epoch(), Lsn::new(lsn)),
                acknowledged_from: crate::evidence::AcknowledgedSource::Given,
                old_primary_from: crate::evidence::OldPrimarySource::Given,
            },
            report: None,
        }
    }

    #[test]
    fn succession_raises_the_epoch_and_keeps_history_bounded() {
        let mut record = AuthorityRecord::bootstrap(id("a"));
        for i in 0..(HISTORY_CAP as u64 + 5) {
            let next = if i % 2 == 0 { "b" } else { "a" };
            let plan = plan_for(&record, next, 10 * (i + 1));
            let summary = RequestSummary {
                candidate: id(next),
                force: Force::NotRequested,
                reason: None,
                request_id: None,
                evidence: None,
            };
            let successor = record.succeeded_by(&plan, summary).unwrap();
            assert_eq!(successor.epoch(), Epoch::new(record.epoch().get() + 1));
            assert_eq!(successor.previous_primary(), Some(record.primary()));
            assert_eq!(successor.view().epoch(), successor.epoch());
            record = successor;
        }
        assert_eq!(record.history().len(), HISTORY_CAP);
        assert_eq!(record.history()[0].epoch, Epoch::new(record.epoch().get() - HISTORY_CAP as u64));
    }

    #[test]
    fn inconsistent_bodies_are_refused() {
        let good = AuthorityRecord::bootstrap(id("a"));
        let mut body = RecordBody::from(good.clone());
        body.previous_primary = Some(id("z"));
        assert_eq!(AuthorityRecord::try_from(body), Err(RecordError::PreviousPrimary));

        let mut body = RecordBody::from(good.clone());
        body.history.push(PastAuthority {
            epoch: Epoch::new(5),
            primary: id("z"),
            start: body.start,
            request: None,
        });
        body.previous_primary = Some(id("z"));
        assert!(matches!(AuthorityRecord::try_from(body), Err(RecordError::History(_))));

        let mut body = RecordBody::from(good);
        let entry =
            PastAuthority { epoch: Epoch::new(0), primary: id("z"), start: body.start, request: None };
        body.history = vec![entry; HISTORY_CAP + 1];
        assert_eq!(AuthorityRecord::try_from(body), Err(RecordError::HistoryTooLong(HISTORY_CAP + 1)));
    }

    /// P6-A1a: what force did is told apart: not requested, requested but unused, carried the
    /// decision; a format-1 record only knew that force was requested.
    #[test]
    fn force_says_whether_it_was_requested_and_carried_the_decision() {
        assert_eq!(Force::of(false, false), Force::NotRequested);
        assert_eq!(Force::of(false, true), Force::NotRequested, "force not asked for carries nothing");
        assert_eq!(Force::of(true, false), Force::RequestedUnused);
        assert_eq!(Force::of(true, true), Force::CarriedTheDecision);
        assert!(!Force::NotRequested.requested());
        for requested in [Force::RequestedUnused, Force::CarriedTheDecision, Force::RequestedUnrecorded] {
            assert!(requested.requested(), "{requested}");
        }
    }

    /// A request text over its limit is refused on its own, whichever it is.
    #[test]
    fn each_request_text_limit_is_enforced_alone() {
        let mut body = RecordBody::from(AuthorityRecord::bootstrap(id("a")));
        let summary = |reason: usize, request_id: usize| RequestSummary {
            candidate: id("a"),
            force: Force::NotRequested,
            reason: Some("r".repeat(reason)),
            request_id: Some("i".repeat(request_id)),
            evidence: None,
        };
        body.request = Some(summary(MAX_REASON_LEN, MAX_REQUEST_ID_LEN));
        assert!(AuthorityRecord::try_from(body.clone()).is_ok());
        body.request = Some(summary(MAX_REASON_LEN + 1, 1));
        assert_eq!(AuthorityRecord::try_from(body.clone()), Err(RecordError::RequestText));
        body.request = Some(summary(1, MAX_REQUEST_ID_LEN + 1));
        assert_eq!(AuthorityRecord::try_from(body), Err(RecordError::RequestText));
    }

    /// The record as `inspect` prints it: every authority with what made it, newest first.
    #[test]
    fn a_record_reads_as_text() {
        let first = AuthorityRecord::bootstrap(id("node-0"));
        let summary = RequestSummary {
            candidate: id("node-1"),
            force: Force::CarriedTheDecision,
            reason: Some("host lost".to_owned()),
            request_id: None,
            evidence: None,
        };
        assert_eq!(
            summary.to_string(),
            "candidate node-1, force=carried_the_decision, reason=\"host lost\", request_id=none"
        );
        let second = first.succeeded_by(&plan_for(&first, "node-1", 12), summary).unwrap();
        let text = second.to_string();
        assert!(text.starts_with("epoch:            2\nprimary:          node-1\n"), "{text}");
        assert!(text.contains("made by:          candidate node-1, force=carried_the_decision"), "{text}");
        assert!(text.contains("  epoch 1 primary node-0 from 1/0, made by bootstrap"), "{text}");
        assert!(!text.contains("Some("), "no Rust debug syntax: {text}");
    }
}
