//! The seven safety checks, always all of them, in one fixed order, each recording the values it
//! compared; the first failure is the denial (P6-D1). Also the screening that runs before them.
//! To add a check: a [`CheckId`] variant with its name and invariants, its function below and
//! the line in [`run_checks`] here; its [`Compared`] variant and text in `compared.rs`, and the
//! [`DenialReason`] of its failure in `denial.rs`.

use std::fmt;
use std::sync::OnceLock;

use aerodb_core::{
    BoundaryViolation, Continuation, Epoch, EpochHistory, Holding, NodeId, ReplicationState, WalPosition,
};
use serde::{Deserialize, Serialize};

// The vocabulary the checks speak, where their callers find it beside the checks.
pub use crate::compared::Compared;
pub use crate::denial::DenialReason;
use crate::evidence::{
    AcknowledgedSource, Derivation, Evidence, OldPrimarySource, PrimaryReport, RuleBound, Stopped,
};
use crate::inputs::{AuthorityView, NodeView, OldPrimary, ValidationInputs};
use crate::invariant::Invariant;
use crate::request::{PromotionPolicy, PromotionRequest, Rejection};

/// The checks, in the order they always run (docs/PROTOCOL.md §4 lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckId {
    /// 1. The candidate is an active replica.
    CandidateRole,
    /// 2. Exactly one authority is visible, and the candidate is not ahead of it.
    AuthorityUnambiguous,
    /// 3. The old primary is not known to be active (unknown passes only with force).
    OldPrimaryInactive,
    /// 4. The highest acknowledged position is known.
    AcknowledgedKnown,
    /// 5. The candidate holds every acknowledged write.
    CandidateCaughtUp,
    /// 6. The candidate's WAL continues the authoritative history.
    WalPrefix,
    /// 7. The candidate's visible state is a commit boundary.
    CommitBoundary,
}

impl CheckId {
    /// Every check, in run order.
    pub const ALL: [CheckId; 7] = [
        CheckId::CandidateRole,
        CheckId::AuthorityUnambiguous,
        CheckId::OldPrimaryInactive,
        CheckId::AcknowledgedKnown,
        CheckId::CandidateCaughtUp,
        CheckId::WalPrefix,
        CheckId::CommitBoundary,
    ];

    /// Stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            CheckId::CandidateRole => "candidate_role",
            CheckId::AuthorityUnambiguous => "authority_unambiguous",
            CheckId::OldPrimaryInactive => "old_primary_inactive",
            CheckId::AcknowledgedKnown => "acknowledged_known",
            CheckId::CandidateCaughtUp => "candidate_caught_up",
            CheckId::WalPrefix => "wal_prefix",
            CheckId::CommitBoundary => "commit_boundary",
        }
    }

    /// The invariants this check enforces.
    pub const fn invariants(self) -> &'static [Invariant] {
        match self {
            CheckId::CandidateRole => &[Invariant::P6A3],
            CheckId::AuthorityUnambiguous => &[Invariant::P6A1, Invariant::P6F1],
            CheckId::OldPrimaryInactive => &[Invariant::P6A1, Invariant::P6A1a],
            CheckId::AcknowledgedKnown => &[Invariant::P6S1, Invariant::P6F1],
            CheckId::CandidateCaughtUp => &[Invariant::P6S1],
            CheckId::WalPrefix => &[Invariant::P6S2],
            CheckId::CommitBoundary => &[Invariant::P6S3],
        }
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check's outcome: what it compared and, if it failed, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// Which check.
    pub check: CheckId,
    /// The values compared; rendered deterministically by `Display`.
    pub compared: Compared,
    /// `None` if the check passed.
    pub failure: Option<DenialReason>,
}

impl CheckRecord {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// The authority an approved promotion would make durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorityPlan {
    /// The epoch validated against; the commit succeeds only if it is still current.
    pub basis_epoch: Epoch,
    /// The new epoch: `basis_epoch + 1`.
    pub new_epoch: Epoch,
    /// The new primary.
    pub primary: NodeId,
    /// The primary being replaced.
    pub previous_primary: NodeId,
    /// The candidate's WAL position where the new epoch begins.
    pub start: WalPosition,
    /// The authoritative history extended with the new epoch.
    pub history: EpochHistory,
    /// The evidence the approval rested on: the acknowledged bound and the old primary's state,
    /// each with where it came from.
    pub evidence: Evidence,
    /// The primary report the evidence came from, if any: the commit happens only while the
    /// store still holds exactly this report (a resumed primary's report is another).
    pub report: Option<PrimaryReport>,
}

impl AuthorityPlan {
    /// Whether the approval rested on the operator asserting the old primary is down because
    /// nobody could observe it (P6-A1a).
    pub fn force_asserted(&self) -> bool {
        self.evidence.old_primary_from == OldPrimarySource::Operator
    }
}

/// Screening, the part of `PromotionRequested → PromotionValidating` that reads no slot: promotion
/// disabled (§7), a candidate the inputs do not describe (P6-F1), or already the primary (P6-A1).
pub(crate) fn screen(
    policy: PromotionPolicy,
    request: &PromotionRequest,
    inputs: &ValidationInputs,
) -> Result<(), Rejection> {
    let candidate = request.candidate();
    if policy == PromotionPolicy::Disabled {
        return Err(Rejection::Disabled);
    }
    if inputs.node(candidate).is_none() {
        let mut described: Vec<NodeId> = inputs.nodes.iter().map(|n| n.id).collect();
        described.sort_unstable();
        return Err(Rejection::UnknownCandidate { candidate, described });
    }
    match &inputs.authority {
        Some(authority) if authority.primary == candidate => {
            Err(Rejection::AlreadyPrimary { candidate, epoch: authority.epoch() })
        }
        _ => Ok(()),
    }
}

/// Every check, in order, on a screened request, and the plan if every one passed.
pub(crate) fn run_checks(
    request: &PromotionRequest,
    inputs: &ValidationInputs,
) -> (Vec<CheckRecord>, Result<AuthorityPlan, DenialReason>) {
    let candidate = inputs.node(request.candidate());
    let (r1, role) = candidate_role(candidate);
    let (r2, authority) = authority_unambiguous(inputs, candidate);
    let (r3, old_primary_from) = old_primary_inactive(request, inputs);
    let bound = acknowledged_bound(inputs);
    let (r4, acknowledged) = acknowledged_known(&bound);
    let (r5, caught_up) = candidate_caught_up(inputs, candidate, &bound);
    let (r6, history) = wal_prefix(inputs, candidate);
    let (r7, boundary) = commit_boundary(candidate);
    let plan = (|| {
        let candidate = role?;
        let (current, new_epoch) = authority?;
        let old_primary_from = old_primary_from?;
        let (acknowledged, acknowledged_from) = acknowledged?;
        caught_up?;
        let history = history?;
        boundary?;
        Ok(AuthorityPlan {
            basis_epoch: current.epoch(),
            new_epoch,
            primary: candidate.id,
            previous_primary: current.primary,
            start: candidate.position,
            history,
            evidence: Evidence { acknowledged, acknowledged_from, old_primary_from },
            report: rested_on_report(acknowledged_from, old_primary_from)
                .then(|| inputs.current_report().cloned())
                .flatten(),
        })
    })();
    (vec![r1, r2, r3, r4, r5, r6, r7], plan)
}

type Checked<T> = (CheckRecord, Result<T, DenialReason>);

fn record<T>(check: CheckId, compared: Compared, result: Result<T, DenialReason>) -> Checked<T> {
    (CheckRecord { check, compared, failure: result.as_ref().err().copied() }, result)
}

fn missing<T>(check: CheckId) -> Checked<T> {
    record(check, Compared::CandidateMissing, Err(DenialReason::CandidateMissing))
}

/// P6-A3: only an active replica may be promoted; each halt reason is its own denial.
fn candidate_role(candidate: Option<&NodeView>) -> Checked<&NodeView> {
    let check = CheckId::CandidateRole;
    let Some(node) = candidate else { return missing(check) };
    let compared = Compared::Role { candidate: node.id, role: node.replication };
    let result = match node.replication {
        ReplicationState::ReplicaActive => Ok(node),
        ReplicationState::ReplicationHalted { reason } => Err(DenialReason::CandidateHalted { reason }),
        other => Err(DenialReason::CandidateNotReplica { role: other.kind() }),
    };
    record(check, compared, result)
}

/// P6-A1, P6-F1: one durable authority, no second primary, the candidate not ahead of it.
fn authority_unambiguous<'a>(
    inputs: &'a ValidationInputs,
    candidate: Option<&NodeView>,
) -> Checked<(&'a AuthorityView, Epoch)> {
    let check = CheckId::AuthorityUnambiguous;
    let Some(authority) = &inputs.authority else {
        return record(check, Compared::NoAuthorityRecord, Err(DenialReason::NoAuthority));
    };
    let epoch = authority.epoch();
    let mut ids: Vec<NodeId> = inputs.nodes.iter().map(|n| n.id).collect();
    ids.sort_unstable();
    let mut duplicates: Vec<NodeId> = ids.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).collect();
    duplicates.dedup();
    let mut claimants: Vec<NodeId> = inputs
        .nodes
        .iter()
        .filter(|n| n.replication == ReplicationState::PrimaryActive && n.id != authority.primary)
        .map(|n| n.id)
        .collect();
    claimants.sort_unstable();
    let candidate_epoch = candidate.map(newest_epoch);
    let mut ahead: Vec<NodeId> = inputs
        .nodes
        .iter()
        .filter(|n| newest_epoch(n) > epoch && Some(n.id) != candidate.map(|c| c.id))
        .map(|n| n.id)
        .collect();
    ahead.sort_unstable();
    ahead.dedup();
    let result = if let Some(&node) = duplicates.first() {
        Err(DenialReason::DuplicateNode { node })
    } else if let Some(candidate) = candidate.map(|c| c.id).filter(|c| *c == authority.primary) {
        Err(DenialReason::CandidateIsPrimary { candidate, epoch })
    } else if let Some(&node) = claimants.first() {
        Err(DenialReason::SecondPrimary { node, primary: authority.primary })
    } else if let Some(newer) = candidate_epoch.filter(|e| *e > epoch) {
        Err(DenialReason::CandidateAhead { epoch: newer, authority: epoch })
    } else if let Some(node) = ahead.first().and_then(|id| inputs.node(*id)) {
        Err(DenialReason::NodeAhead { node: node.id, epoch: newest_epoch(node), authority: epoch })
    } else if let Some(report) = inputs.report.as_ref().filter(|r| r.epoch() > epoch) {
        // A primary reported at a newer epoch: that authority existed (the record went back).
        Err(DenialReason::NodeAhead { node: report.primary(), epoch: report.epoch(), authority: epoch })
    } else {
        epoch.next().map(|next| (authority, next)).ok_or(DenialReason::EpochExhausted { epoch })
    };
    let compared = Compared::Authority {
        epoch,
        primary: authority.primary,
        duplicates,
        claimants,
        candidate_epoch,
        ahead,
    };
    record(check, compared, result)
}

/// The newest epoch a node knows: its history's newest, or its position's if newer.
fn newest_epoch(node: &NodeView) -> Epoch {
    let known = node.history.as_ref().map_or(node.position.epoch, |h| h.latest().epoch);
    known.max(node.position.epoch)
}

/// P6-A1, P6-A1a: the old primary must not be known active; stopped is known from the caller or
/// from its agent's durable statement, and unknown passes only with force. Returns where the
/// passing state came from.
fn old_primary_inactive(request: &PromotionRequest, inputs: &ValidationInputs) -> Checked<OldPrimarySource> {
    let check = CheckId::OldPrimaryInactive;
    let primary = inputs.authority.as_ref().map(|a| a.primary);
    let seen_active = primary
        .and_then(|p| inputs.node(p))
        .is_some_and(|n| n.replication == ReplicationState::PrimaryActive);
    let stated = inputs.current_report().and_then(|r| r.stopped());
    let compared = Compared::OldPrimary {
        primary,
        reported: inputs.old_primary,
        seen_active,
        stated,
        force: request.force(),
    };
    // Seen or reported active outweighs any statement that it stopped: inconsistent input denies.
    let result = match (seen_active, inputs.old_primary, stated, request.force()) {
        (true, ..) | (_, OldPrimary::KnownActive, ..) => Err(match primary {
            Some(primary) => DenialReason::OldPrimaryActive { primary },
            None => DenialReason::NoAuthority,
        }),
        (_, _, Some(_), _) => Ok(OldPrimarySource::Agent),
        (_, OldPrimary::ConfirmedStopped | OldPrimary::Fenced, None, _) => Ok(OldPrimarySource::Given),
        (_, OldPrimary::Unknown, None, true) => Ok(OldPrimarySource::Operator),
        (_, OldPrimary::Unknown, None, false) => Err(DenialReason::OldPrimaryUnknown),
    };
    record(check, compared, result)
}

/// Whether an approval's evidence came from the primary report (its rules, its stop statement).
fn rested_on_report(acknowledged: AcknowledgedSource, old_primary: OldPrimarySource) -> bool {
    matches!(acknowledged, AcknowledgedSource::Derived { .. } | AcknowledgedSource::CleanStop)
        || old_primary == OldPrimarySource::Agent
}

/// Every source of an acknowledged bound the inputs offer, and the one chosen.
struct Bound {
    given: Option<WalPosition>,
    derivation: Option<Derivation>,
    clean_stop: Option<WalPosition>,
    /// Every bound the sources give: the candidate must hold each, since positions on
    /// different branches have no order, and a higher one does not imply a lower one is held.
    all: Vec<(WalPosition, AcknowledgedSource)>,
    chosen: Result<(WalPosition, AcknowledgedSource), DenialReason>,
}

/// P6-S1: the acknowledged bounds are what the inputs give, what each of the primary's reported
/// synchronous rules derives from the observed standbys, and its clean stop's checkpoint —
/// each an upper bound of every acknowledged position. The candidate must hold every one
/// (check 5); the highest is the one shown and recorded. None of them: unknown, or underivable
/// when the reported rules saw too few standbys.
fn acknowledged_bound(inputs: &ValidationInputs) -> Bound {
    let report = inputs.current_report();
    let ends: Vec<(NodeId, WalPosition)> = inputs.nodes.iter().map(|n| (n.id, n.position)).collect();
    let derivation = report.filter(|r| !r.synchronous().is_empty()).map(|r| r.derive(&ends));
    let clean_stop = report.and_then(|r| r.stopped()).filter(|s| s.clean).map(|s: Stopped| s.checkpoint);
    // Each rule's bound, once every rule is bounded.
    let derived: Vec<(WalPosition, AcknowledgedSource)> = derivation
        .as_ref()
        .filter(|d| d.bound.is_some())
        .map(|d| {
            d.rules
                .iter()
                .filter_map(|r| r.bound)
                .map(|(node, p)| (p, AcknowledgedSource::Derived { node }))
                .collect()
        })
        .unwrap_or_default();
    let all: Vec<(WalPosition, AcknowledgedSource)> = inputs
        .acknowledged
        .map(|p| (p, AcknowledgedSource::Given))
        .into_iter()
        .chain(derived)
        .chain(clean_stop.map(|p| (p, AcknowledgedSource::CleanStop)))
        .collect();
    // Ties go to the later source: evidence over what was merely given.
    let highest = all.iter().copied().reduce(|a, b| if b.0 >= a.0 { b } else { a });
    // P6-F1: epoch E's primary stopped cleanly on epoch E's WAL; a checkpoint before E began,
    // under any epoch's name, contradicts the authority.
    let start =
        inputs.authority.as_ref().map(|a| a.history.latest()).map(|e| WalPosition::new(e.epoch, e.start));
    let contradiction = clean_stop.zip(start).filter(|(checkpoint, start)| checkpoint.lsn < start.lsn);
    let chosen = match (contradiction, highest) {
        (Some((acknowledged, start)), _) => {
            Err(DenialReason::AcknowledgedBeforeEpochStart { start, acknowledged })
        }
        (None, Some(highest)) => Ok(highest),
        (None, None) => {
            let unbounded = derivation.as_ref().and_then(|d| d.rules.iter().find(|r| r.bound.is_none()));
            Err(match unbounded {
                Some(RuleBound { ambiguous: Some(name), .. }) => {
                    DenialReason::AcknowledgedAmbiguous { name: *name }
                }
                Some(r) => DenialReason::AcknowledgedUnderivable {
                    observed: u8::try_from(r.observed.len()).unwrap_or(u8::MAX),
                    needed: u8::try_from(r.rule.needed()).unwrap_or(u8::MAX),
                },
                None => DenialReason::AcknowledgedUnknown,
            })
        }
    };
    Bound { given: inputs.acknowledged, derivation, clean_stop, all, chosen }
}

/// P6-S1, P6-F1: without an acknowledged bound no loss can be ruled out.
fn acknowledged_known(bound: &Bound) -> Checked<(WalPosition, AcknowledgedSource)> {
    let compared = Compared::Acknowledged {
        acknowledged: bound.chosen.as_ref().ok().map(|c| c.0),
        source: bound.chosen.as_ref().ok().map(|c| c.1),
        given: bound.given,
        derivation: bound.derivation.clone(),
        clean_stop: bound.clean_stop,
    };
    record(CheckId::AcknowledgedKnown, compared, bound.chosen)
}

/// P6-S1: the candidate must hold every acknowledged write: the acknowledged position must lie
/// on the candidate's own history, not merely sort before its position.
fn candidate_caught_up(
    inputs: &ValidationInputs,
    candidate: Option<&NodeView>,
    bound: &Bound,
) -> Checked<()> {
    let check = CheckId::CandidateCaughtUp;
    let Some(node) = candidate else { return missing(check) };
    let acknowledged = bound.chosen.ok().map(|b| b.0);
    let holds = |acknowledged: WalPosition| match holding(node, acknowledged, inputs.authority.as_ref())? {
        Holding::Holds => Ok(()),
        Holding::EndsBefore { end } if end == node.position => {
            Err(DenialReason::CandidateBehind { candidate: node.position, acknowledged })
        }
        Holding::EndsBefore { end } => Err(DenialReason::AcknowledgedPastEpochEnd { end, acknowledged }),
        Holding::EpochMissing { epoch } => {
            Err(DenialReason::AcknowledgedEpochMissing { epoch, acknowledged })
        }
        Holding::BeforeEpochStart { start } => {
            Err(DenialReason::AcknowledgedBeforeEpochStart { start, acknowledged })
        }
        Holding::EndOffHistory(off) => Err(DenialReason::PositionOffHistory { off }),
    };
    // Every bound, the chosen one first so its failure is the one reported.
    let result = bound.chosen.and_then(|(chosen, _)| {
        std::iter::once(chosen).chain(bound.all.iter().map(|b| b.0)).try_for_each(holds)
    });
    let held = result.is_ok();
    record(check, Compared::CaughtUp { candidate: node.position, acknowledged, held }, result)
}

/// Where `acknowledged` lies relative to `node`'s WAL. A switch point of the authoritative
/// history is held under any of its names: a replica that stopped at `1/100` holds `2/100` on
/// `[1@0, 2@100]` without knowing epoch 2. Without a history nothing can be placed, not even in
/// the node's own epoch, whose start is unknown (P6-F1).
fn holding(
    node: &NodeView,
    acknowledged: WalPosition,
    authority: Option<&AuthorityView>,
) -> Result<Holding, DenialReason> {
    let history = node.history.as_ref().ok_or(DenialReason::HistoryUnknown)?;
    let direct = history.holds(node.position, acknowledged);
    let renamed = authority.map(|a| a.history.names(acknowledged)).unwrap_or_default();
    if renamed.into_iter().any(|name| history.holds(node.position, name) == Holding::Holds) {
        return Ok(Holding::Holds);
    }
    Ok(direct)
}

/// P6-S2: the candidate's WAL must continue the authoritative history with no gap or divergence.
/// Yields the history extended with the new epoch.
fn wal_prefix(inputs: &ValidationInputs, candidate: Option<&NodeView>) -> Checked<EpochHistory> {
    let check = CheckId::WalPrefix;
    let Some(node) = candidate else { return missing(check) };
    let Some(authority) = &inputs.authority else {
        return record(check, Compared::NoAuthorityHistory, Err(DenialReason::NoAuthority));
    };
    let Some(history) = &node.history else {
        return record(check, Compared::HistoryUnknown, Err(DenialReason::HistoryUnknown));
    };
    let continuation = history.continuation_of(node.position, &authority.history);
    let compared = Compared::Prefix {
        candidate: history.clone(),
        position: node.position,
        authority: authority.history.clone(),
        continuation,
    };
    let latest = authority.history.latest();
    let result = match continuation {
        Continuation::Diverged { epoch, at } => Err(DenialReason::HistoryDiverged { epoch, at }),
        Continuation::Ahead { epoch } => {
            Err(DenialReason::CandidateAhead { epoch, authority: authority.epoch() })
        }
        Continuation::UnknownEpoch { epoch } => Err(DenialReason::PositionEpochUnknown { epoch }),
        Continuation::OffOwnHistory(off) => Err(DenialReason::PositionOffHistory { off }),
        Continuation::Compatible => latest
            .epoch
            .next()
            .and_then(|next| authority.history.extended(next, node.position.lsn).ok())
            .ok_or(DenialReason::BehindSwitchPoint {
                epoch: latest.epoch,
                start: latest.start,
                candidate: node.position.lsn,
            }),
    };
    record(check, compared, result)
}

/// P6-S3: the candidate's readers must see a whole-commit prefix of its WAL.
fn commit_boundary(candidate: Option<&NodeView>) -> Checked<()> {
    let check = CheckId::CommitBoundary;
    let Some(node) = candidate else { return missing(check) };
    let Some(boundary) = &node.mvcc else {
        return record(check, Compared::MvccUnknown, Err(DenialReason::MvccUnknown));
    };
    let compared = Compared::Boundary {
        visible_commit: boundary.visible_commit,
        applying: boundary.applying,
        wal_end: node.position.lsn,
    };
    let result = boundary.check(node.position.lsn).map_err(|violation| match violation {
        BoundaryViolation::Inconsistent { commit, wal_end } => {
            DenialReason::MvccInconsistent { commit, wal_end }
        }
        BoundaryViolation::PartialCommitVisible { commit } => DenialReason::PartialCommitVisible { commit },
        BoundaryViolation::PhantomCommit { visible_commit, wal_end } => {
            DenialReason::PhantomCommit { visible_commit, wal_end }
        }
    });
    record(check, compared, result)
}

/// Every invariant some check validates, in spec order: derived from the checks, so the
/// validation edges' events name exactly what the checks enforce.
pub(crate) fn validated_invariants() -> &'static [Invariant] {
    static ALL: OnceLock<Vec<Invariant>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut all: Vec<Invariant> =
            CheckId::ALL.iter().flat_map(|c| c.invariants().iter().copied()).collect();
        all.sort_unstable();
        all.dedup();
        all
    })
}
