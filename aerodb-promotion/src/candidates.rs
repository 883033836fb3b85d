//! Every node as a candidate (`aerodb-promote candidates`): its verdict and, when it is refused,
//! the smallest set of missing evidence whose addition would approve it, or the statement that
//! no evidence can. Each set is checked by running the validator itself on the inputs with the
//! evidence added, so nothing is listed that does not really change the verdict (P6-O2). A pure,
//! deterministic function of (policy, inputs) (P6-D1).

use std::fmt;

use aerodb_core::{
    Epoch, EpochHistory, Lsn, MvccBoundary, NodeId, OffHistory, ReplicationState, WalPosition,
};
use serde::{Deserialize, Serialize};

use crate::checks::{CheckId, DenialReason};
use crate::display::HistoryText;
use crate::evidence::{PrimaryReport, Stopped};
use crate::inputs::{AuthorityView, NodeView, OldPrimary, ValidationInputs};
use crate::request::{PromotionPolicy, PromotionRequest, Rejection};
use crate::validator::{Verdict, assess};

/// One piece of evidence a refused candidate lacks, in the terms an operator can go and get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Missing {
    /// The old primary confirmed stopped: its agent's statement, the caller's report, or the
    /// operator's assertion (`force`) when nobody can observe it (P6-A1, P6-A1a).
    OldPrimaryStopped {
        /// The recorded primary.
        primary: NodeId,
    },
    /// The old primary's agent states that it stopped cleanly, its shutdown checkpoint at or
    /// before `at_most`: that both stops it and bounds what was acknowledged (P6-S1).
    CleanStop {
        /// The recorded primary.
        primary: NodeId,
        /// The highest checkpoint that would do.
        at_most: WalPosition,
    },
    /// The highest acknowledged position given (by the operator or the control plane), at or
    /// before `at_most`. It stands in for a bound the reported rules cannot derive; it never
    /// lowers one they do (the validator takes the highest, P6-S1).
    Acknowledged {
        /// The highest acknowledged position that would do.
        at_most: WalPosition,
    },
    /// A synchronous standby the primary's rules name, observed with its WAL ending at or before
    /// `at_most`: the derivation of the acknowledged bound needs it (P6-S1). A lower end on the
    /// same branch does too, unless another standby's end on another branch sorts between.
    Observed {
        /// The standby.
        node: NodeId,
        /// The highest WAL end tried that would do.
        at_most: WalPosition,
    },
    /// The node's WAL flushed through `position` (P6-S1, P6-S2).
    WalReaches {
        /// The node.
        node: NodeId,
        /// The position its WAL must reach.
        position: WalPosition,
    },
    /// The node's epoch history, unknown, shown to be `history`: the authority's through the
    /// node's position (P6-F1, P6-S2).
    HistoryKnown {
        /// The node.
        node: NodeId,
        /// The history it must have.
        history: EpochHistory,
    },
    /// The node's history includes `epoch`, as the authority's does: it becomes `history`
    /// (P6-S1).
    HistoryHasEpoch {
        /// The node.
        node: NodeId,
        /// The epoch it must have.
        epoch: Epoch,
        /// The history it must have.
        history: EpochHistory,
    },
    /// The node's MVCC boundary known: at rest, commit LSN `visible_commit` the newest visible,
    /// nothing half-applied (P6-F1, P6-S3).
    MvccKnown {
        /// The node.
        node: NodeId,
        /// Its newest visible commit.
        visible_commit: Lsn,
    },
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::OldPrimaryStopped { primary } => write!(
                f,
                "old primary {primary} confirmed stopped (its agent's statement, or the operator's --force)"
            ),
            Missing::CleanStop { primary, at_most } => write!(
                f,
                "old primary {primary}'s agent states it stopped cleanly, its shutdown checkpoint at or before {at_most}"
            ),
            Missing::Acknowledged { at_most } => write!(
                f,
                "the acknowledged position given (by the operator or the control plane), at or before {at_most}"
            ),
            Missing::Observed { node, at_most } => write!(
                f,
                "{node} observed (a named synchronous standby), its WAL ending at or before {at_most}"
            ),
            Missing::WalReaches { node, position } => write!(f, "flush ≥ {position} on {node}"),
            Missing::HistoryKnown { node, history } => {
                write!(f, "{node}'s epoch history known: {} (the authority's)", HistoryText(history))
            }
            Missing::HistoryHasEpoch { node, epoch, history } => {
                write!(f, "{node}'s history has epoch {epoch}: {} (the authority's)", HistoryText(history))
            }
            Missing::MvccKnown { node, visible_commit } => write!(
                f,
                "{node}'s MVCC boundary known: at rest, commit LSN {visible_commit} visible, nothing half-applied"
            ),
        }
    }
}

impl Missing {
    /// The position a bound or an observed WAL end is stated at or before, for those kinds.
    fn at_most(&self) -> Option<WalPosition> {
        match self {
            Missing::CleanStop { at_most, .. }
            | Missing::Acknowledged { at_most }
            | Missing::Observed { at_most, .. } => Some(*at_most),
            _ => None,
        }
    }

    /// `inputs` with this evidence added.
    fn apply(&self, inputs: &mut ValidationInputs) {
        match self {
            Missing::OldPrimaryStopped { .. } => inputs.old_primary = OldPrimary::ConfirmedStopped,
            Missing::CleanStop { primary, at_most } => {
                let Some(epoch) = inputs.authority.as_ref().map(AuthorityView::epoch) else { return };
                let report =
                    inputs.current_report().cloned().unwrap_or_else(|| PrimaryReport::new(epoch, *primary));
                inputs.report = Some(report.with_stopped(Stopped { checkpoint: *at_most, clean: true }));
            }
            Missing::Acknowledged { at_most } => inputs.acknowledged = Some(*at_most),
            Missing::Observed { node, at_most } => {
                inputs.nodes.push(NodeView::new(*node, ReplicationState::ReplicaActive, *at_most))
            }
            Missing::WalReaches { node, position } => {
                if let Some(view) = view_mut(inputs, *node) {
                    view.position = *position;
                }
            }
            Missing::HistoryKnown { node, history } | Missing::HistoryHasEpoch { node, history, .. } => {
                if let Some(view) = view_mut(inputs, *node) {
                    view.history = Some(history.clone());
                }
            }
            Missing::MvccKnown { node, visible_commit } => {
                if let Some(view) = view_mut(inputs, *node) {
                    view.mvcc = Some(MvccBoundary::at_rest(*visible_commit));
                }
            }
        }
    }
}

fn view_mut(inputs: &mut ValidationInputs, node: NodeId) -> Option<&mut NodeView> {
    inputs.nodes.iter_mut().find(|n| n.id == node)
}

/// What still refuses a node when every piece of evidence this module knows of is added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Blocker {
    /// Refused before validation.
    Rejected {
        /// Why.
        rejection: Rejection,
    },
    /// A check's denial.
    Denied {
        /// Why.
        reason: DenialReason,
    },
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::Rejected { rejection } => rejection.fmt(f),
            Blocker::Denied { reason } => reason.fmt(f),
        }
    }
}

/// What would change a refused node's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Remedy {
    /// Adding exactly this evidence approves the node, and leaving out any one item does not.
    /// Among the evidence this module knows of no smaller set does.
    Missing {
        /// The evidence, never empty.
        evidence: Vec<Missing>,
    },
    /// No evidence added to these inputs approves the node: the state itself must change (the
    /// old primary known active, a diverged history, a node that is not a replica, …). Every
    /// single piece of evidence is tried; combinations of two or more within 4,096
    /// choices, then the whole pool at the candidate's own point, so past that bound a larger
    /// remedy may exist that was not searched.
    Unfixable {
        /// What refuses it even with every piece of evidence added.
        blocker: Blocker,
    },
}

/// One node as a candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The node.
    pub node: NodeId,
    /// What [`assess`] answers for promoting it now.
    pub verdict: Verdict,
    /// When refused, what would change that; `None` when approved.
    pub remedy: Option<Remedy>,
}

impl Candidate {
    /// Whether the node would be approved now.
    pub fn approved(&self) -> bool {
        matches!(self.verdict, Verdict::Approve(_))
    }
}

/// Every node other than the recorded primary as a candidate, sorted by node id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidates {
    /// Each node, sorted by id.
    pub nodes: Vec<Candidate>,
}

impl Candidates {
    /// Whether some node would be approved now.
    pub fn any_approved(&self) -> bool {
        self.nodes.iter().any(Candidate::approved)
    }
}

impl fmt::Display for Candidates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.nodes {
            match &c.verdict {
                Verdict::Approve(plan) => writeln!(
                    f,
                    "{}: WOULD APPROVE: epoch {} to {} with {} as primary, from {} ({})",
                    c.node, plan.basis_epoch, plan.new_epoch, plan.primary, plan.start, plan.evidence
                )?,
                Verdict::Deny(reason) => writeln!(f, "{}: DENIED: {reason}", c.node)?,
                Verdict::Reject(rejection) => writeln!(f, "{}: REJECTED: {rejection}", c.node)?,
            }
            match &c.remedy {
                Some(Remedy::Missing { evidence }) => {
                    for item in evidence {
                        writeln!(f, "  missing: {item}")?;
                    }
                }
                Some(Remedy::Unfixable { blocker }) => {
                    writeln!(f, "  no evidence changes this: {blocker}")?;
                }
                None => {}
            }
        }
        let approved: Vec<String> =
            self.nodes.iter().filter(|c| c.approved()).map(|c| c.node.to_string()).collect();
        if approved.is_empty() {
            writeln!(f, "no node would be approved")
        } else {
            writeln!(f, "would be approved: {}", approved.join(", "))
        }
    }
}

/// Every node the inputs describe other than the recorded primary, sorted by id: what a dry
/// run of its promotion under `policy` answers, and when refused the smallest set of missing
/// evidence that would approve it, or what no evidence can change. Deterministic (P6-D1).
pub fn candidates(policy: PromotionPolicy, inputs: &ValidationInputs) -> Candidates {
    let primary = inputs.authority.as_ref().map(|a| a.primary);
    let mut ids: Vec<NodeId> = inputs.nodes.iter().map(|n| n.id).filter(|id| Some(*id) != primary).collect();
    ids.sort_unstable();
    ids.dedup();
    Candidates { nodes: ids.into_iter().map(|id| candidate(policy, inputs, id)).collect() }
}

fn candidate(policy: PromotionPolicy, inputs: &ValidationInputs, node: NodeId) -> Candidate {
    let request = PromotionRequest::of(node);
    let verdict = assess(policy, &request, inputs).verdict;
    let remedy = match verdict {
        Verdict::Approve(_) => None,
        _ => Some(remedy(policy, &request, inputs)),
    };
    Candidate { node, verdict, remedy }
}

/// The evidence that does not concern the candidate itself, in a fixed order: one slot per
/// piece, each with every value worth trying ([`values`]), the most lenient first; and each
/// piece at the candidate's own point, what the blocker of an unfixable node is shown with.
fn pool(inputs: &ValidationInputs, candidate: &NodeView) -> (Vec<Vec<Missing>>, Vec<Missing>) {
    let mut pool = Vec::new();
    let Some(authority) = &inputs.authority else { return (pool, Vec::new()) };
    let primary = authority.primary;
    let report = inputs.current_report();
    let stated = report.and_then(PrimaryReport::stopped).is_some();
    let seen_active = inputs.node(primary).is_some_and(|n| n.replication == ReplicationState::PrimaryActive);
    let active = seen_active || inputs.old_primary == OldPrimary::KnownActive;
    let values = values(inputs, candidate, &authority.history);
    // A given bound or a clean stop only adds a bound to hold (check 5): the candidate's own
    // point under its newest name, held now and after any WAL it gains, does for every value.
    let at_most =
        authority.history.names(candidate.position).into_iter().fold(candidate.position, WalPosition::max);
    if !active && !stated && inputs.old_primary == OldPrimary::Unknown {
        pool.push(vec![Missing::OldPrimaryStopped { primary }]);
    }
    if !active && !stated {
        pool.push(vec![Missing::CleanStop { primary, at_most }]);
    }
    // Observed standbys before a given bound: where sizes tie, evidence over assertion.
    let rules = report.map(PrimaryReport::synchronous).unwrap_or_default();
    let mut unobserved: Vec<NodeId> = rules
        .iter()
        .flat_map(|r| r.standbys().iter().copied())
        .filter(|s| !inputs.nodes.iter().any(|n| n.id.as_str().eq_ignore_ascii_case(s.as_str())))
        .collect();
    unobserved.sort_unstable();
    unobserved.dedup();
    for node in unobserved {
        pool.push(values.iter().map(|&at_most| Missing::Observed { node, at_most }).collect());
    }
    if inputs.acknowledged.is_none() {
        pool.push(vec![Missing::Acknowledged { at_most }]);
    }
    let own =
        pool.iter().filter_map(|slot| slot.iter().find(|m| m.at_most() == Some(at_most)).or(slot.first()));
    let own = own.cloned().collect();
    (pool, own)
}

/// A standby's WAL ends worth trying, highest first: each existing point as it is, and its LSN
/// and the one before under every name the authority's or the candidate's history gives. Only
/// where it sorts among the others and whether the candidate holds it matter (P6-S1, check 5):
/// between two neighbouring points that is the highest it can hold, and the point itself.
fn values(inputs: &ValidationInputs, candidate: &NodeView, auth: &EpochHistory) -> Vec<WalPosition> {
    let histories: Vec<&EpochHistory> = std::iter::once(auth).chain(candidate.history.as_ref()).collect();
    let mut points: Vec<WalPosition> = inputs.nodes.iter().map(|n| n.position).collect();
    points.extend(inputs.acknowledged);
    points.extend(inputs.current_report().and_then(PrimaryReport::stopped).map(|s| s.checkpoint));
    points.extend(
        histories.iter().flat_map(|h| h.entries().iter().map(|e| WalPosition::new(e.epoch, e.start))),
    );
    let commit = candidate.mvcc.map(|m| WalPosition::new(candidate.position.epoch, m.visible_commit));
    points.extend(commit);
    let mut values = points.clone();
    for p in points {
        let before = p.lsn.get().checked_sub(1).map(Lsn::new);
        for lsn in std::iter::once(p.lsn).chain(before) {
            for history in &histories {
                let names = history.entries().iter().map(|e| WalPosition::new(e.epoch, lsn));
                values.extend(names.filter(|name| history.place(*name).is_ok()));
            }
        }
    }
    values.sort_unstable_by(|a, b| b.cmp(a));
    values.dedup();
    values
}

fn approves(policy: PromotionPolicy, request: &PromotionRequest, inputs: &ValidationInputs) -> bool {
    matches!(assess(policy, request, inputs).verdict, Verdict::Approve(_))
}

fn applied(inputs: &ValidationInputs, evidence: &[Missing]) -> ValidationInputs {
    let mut inputs = inputs.clone();
    for item in evidence {
        item.apply(&mut inputs);
    }
    inputs
}

/// How many choices (a subset of two or more pieces, one value each) are tried at most: 2^12.
/// Subsets of none or one piece are always tried with every value, so one addition never
/// approves a node stated unfixable; past the budget, the whole pool at the candidate's point.
const SEARCH_BUDGET: usize = 1 << 12;

fn remedy(policy: PromotionPolicy, request: &PromotionRequest, inputs: &ValidationInputs) -> Remedy {
    let assessment = assess(policy, request, inputs);
    // What no evidence touches: screening, the candidate's role, the authority and the other
    // nodes' claims (checks 1 and 2), an old primary known active.
    let settled = assessment
        .checks
        .iter()
        .filter(|c| {
            matches!(
                c.check,
                CheckId::CandidateRole | CheckId::AuthorityUnambiguous | CheckId::OldPrimaryInactive
            )
        })
        .filter_map(|c| c.failure)
        .find(|reason| *reason != DenialReason::OldPrimaryUnknown);
    match (&assessment.verdict, settled) {
        (Verdict::Reject(rejection), _) => {
            return Remedy::Unfixable { blocker: Blocker::Rejected { rejection: rejection.clone() } };
        }
        (_, Some(reason)) => return Remedy::Unfixable { blocker: Blocker::Denied { reason } },
        _ => {}
    }
    let Some(node) = inputs.node(request.candidate()) else {
        return Remedy::Unfixable { blocker: blocker(policy, request, inputs) };
    };
    let (pool, own) = pool(inputs, node);
    // Smallest first; among equals the earliest subset, and in it the earliest values.
    let mut best: Option<Vec<Missing>> = None;
    let mut tried = 0;
    'sizes: for size in 0..=pool.len() {
        for subset in Combinations::new(pool.len(), size) {
            for chosen in choices(&pool, &subset) {
                // Nothing found later at this size is smaller (P6-O2).
                if best.as_ref().is_some_and(|b| b.len() <= size) {
                    break 'sizes;
                }
                if size >= 2 {
                    tried += 1;
                    if tried > SEARCH_BUDGET {
                        break 'sizes;
                    }
                }
                if let Some(found) = completed(policy, request, inputs, chosen)
                    && best.as_ref().is_none_or(|b| found.len() < b.len())
                {
                    best = Some(found);
                }
            }
        }
    }
    if tried > SEARCH_BUDGET
        && let Some(found) = completed(policy, request, inputs, own.clone())
        && best.as_ref().is_none_or(|b| found.len() < b.len())
    {
        best = Some(found);
    }
    match best {
        Some(found) => Remedy::Missing { evidence: reduced(policy, request, inputs, found) },
        None => {
            let everything = completed_anyway(policy, request, &applied(inputs, &own));
            Remedy::Unfixable { blocker: blocker(policy, request, &everything) }
        }
    }
}

/// What refuses the request on `inputs`: a WAL off the authority's history (check 6) before a
/// bound it is behind, since no WAL it gains reaches that bound (P6-S2).
fn blocker(policy: PromotionPolicy, request: &PromotionRequest, inputs: &ValidationInputs) -> Blocker {
    let assessment = assess(policy, request, inputs);
    let prefix = assessment.checks.iter().find(|c| c.check == CheckId::WalPrefix).and_then(|c| c.failure);
    match assessment.verdict {
        Verdict::Reject(rejection) => Blocker::Rejected { rejection },
        Verdict::Deny(reason) => Blocker::Denied { reason: prefix.unwrap_or(reason) },
        // Unreachable when called: the search tried this very evidence.
        Verdict::Approve(_) => Blocker::Denied { reason: DenialReason::CandidateMissing },
    }
}

/// `chosen` plus whatever the candidate itself lacks (its WAL, history, MVCC boundary), if
/// that approves it.
fn completed(
    policy: PromotionPolicy,
    request: &PromotionRequest,
    inputs: &ValidationInputs,
    mut chosen: Vec<Missing>,
) -> Option<Vec<Missing>> {
    let with = applied(inputs, &chosen);
    let (repaired, own) = repair(policy, request, &with);
    if !approves(policy, request, &repaired) {
        return None;
    }
    chosen.extend(own);
    Some(chosen)
}

fn completed_anyway(
    policy: PromotionPolicy,
    request: &PromotionRequest,
    inputs: &ValidationInputs,
) -> ValidationInputs {
    repair(policy, request, inputs).0
}

/// The candidate's own gaps filled one denial at a time, as far as the authority's history
/// says how; failing that, its WAL moved forward to each point that could matter, the least
/// first (a candidate named in the synchronous rules moves the derived bound with it). The
/// inputs so repaired, and the evidence that is.
fn repair(
    policy: PromotionPolicy,
    request: &PromotionRequest,
    inputs: &ValidationInputs,
) -> (ValidationInputs, Vec<Missing>) {
    let id = request.candidate();
    let (Some(original), Some(authority)) = (inputs.node(id).cloned(), inputs.authority.clone()) else {
        return (inputs.clone(), Vec::new());
    };
    let auth = &authority.history;
    let mut repaired = follow(policy, request, inputs.clone(), auth);
    if !approves(policy, request, &repaired) {
        for target in targets(inputs, &original, auth) {
            let mut moved = inputs.clone();
            let Some(view) = view_mut(&mut moved, id) else { break };
            if reach(view, auth, target).is_none() {
                continue;
            }
            let moved = follow(policy, request, moved, auth);
            if approves(policy, request, &moved) {
                repaired = moved;
                break;
            }
        }
    }
    let own = repaired.node(id).map(|view| changes(&original, view)).unwrap_or_default();
    (repaired, own)
}

/// Fills the candidate's gaps the denials name, one at a time.
fn follow(
    policy: PromotionPolicy,
    request: &PromotionRequest,
    mut current: ValidationInputs,
    auth: &EpochHistory,
) -> ValidationInputs {
    let id = request.candidate();
    for _ in 0..8 {
        let Verdict::Deny(reason) = assess(policy, request, &current).verdict else { break };
        let Some(view) = view_mut(&mut current, id) else { break };
        let fixed = match reason {
            DenialReason::HistoryUnknown => through(auth, view.position).map(|h| view.history = Some(h)),
            DenialReason::AcknowledgedEpochMissing { acknowledged, .. } => {
                extended_to(view.history.as_ref(), auth, acknowledged).map(|h| view.history = Some(h))
            }
            DenialReason::CandidateBehind { acknowledged, .. } => reach(view, auth, acknowledged),
            // A history that lacks the epoch of the node's own position: it has not learnt the
            // switch yet. Any other contradiction stays one (P6-F1).
            DenialReason::PositionOffHistory { .. }
                if view
                    .history
                    .as_ref()
                    .is_some_and(|h| !h.entries().iter().any(|e| e.epoch == view.position.epoch)) =>
            {
                extended_to(view.history.as_ref(), auth, view.position).map(|h| view.history = Some(h))
            }
            DenialReason::BehindSwitchPoint { start, .. } => {
                let entries = auth.entries();
                entries
                    .len()
                    .checked_sub(2)
                    .and_then(|i| entries.get(i))
                    .and_then(|previous| reach(view, auth, WalPosition::new(previous.epoch, start)))
            }
            DenialReason::PhantomCommit { visible_commit, .. } => {
                let named = named(view.history.as_ref().unwrap_or(auth), visible_commit);
                reach(view, auth, named)
            }
            DenialReason::MvccUnknown => {
                view.mvcc = Some(MvccBoundary::at_rest(view.position.lsn));
                Some(())
            }
            _ => None,
        };
        if fixed.is_none() {
            break;
        }
    }
    current
}

/// Every point past the candidate's WAL end that could matter — where another node, a bound,
/// a switch or the candidate's visible commit is — under each name the authority's history or
/// the candidate's own gives it, least first.
fn targets(inputs: &ValidationInputs, candidate: &NodeView, auth: &EpochHistory) -> Vec<WalPosition> {
    let report = inputs.current_report();
    let mut lsns: Vec<Lsn> = inputs.nodes.iter().map(|n| n.position.lsn).collect();
    lsns.extend(inputs.acknowledged.map(|a| a.lsn));
    lsns.extend(report.and_then(PrimaryReport::stopped).map(|s| s.checkpoint.lsn));
    lsns.extend(auth.entries().iter().map(|e| e.start));
    lsns.extend(candidate.mvcc.map(|m| m.visible_commit));
    let mut targets: Vec<WalPosition> = Vec::new();
    for lsn in lsns.into_iter().filter(|l| *l > candidate.position.lsn) {
        let on_authority = named(auth, lsn);
        targets.extend(auth.names(on_authority));
        targets.push(on_authority);
        targets.extend(candidate.history.as_ref().map(|h| named(h, lsn)));
    }
    targets.sort_unstable_by_key(|t| (t.lsn, t.epoch));
    targets.dedup();
    targets
}

/// What the candidate's view gained from `original`, as evidence.
fn changes(original: &NodeView, view: &NodeView) -> Vec<Missing> {
    let id = view.id;
    let mut own = Vec::new();
    if view.position != original.position {
        own.push(Missing::WalReaches { node: id, position: view.position });
    }
    if let (Some(history), true) = (&view.history, view.history != original.history) {
        own.push(match &original.history {
            None => Missing::HistoryKnown { node: id, history: history.clone() },
            Some(_) => {
                Missing::HistoryHasEpoch { node: id, epoch: history.latest().epoch, history: history.clone() }
            }
        });
    }
    if let (Some(mvcc), true) = (view.mvcc, view.mvcc != original.mvcc) {
        own.push(Missing::MvccKnown { node: id, visible_commit: mvcc.visible_commit });
    }
    own
}

/// Moves `view`'s WAL end to `target`, its known history extended along the authority's when
/// it lacks `target`'s epoch. Not a WAL end past its epoch's end or before its start on its own
/// history or the authority's: that WAL contradicts its history or diverged, and more WAL does
/// not undo it (P6-F1, P6-S2).
fn reach(view: &mut NodeView, auth: &EpochHistory, target: WalPosition) -> Option<()> {
    // Forward only: another name of the same point is not more WAL.
    if target.lsn <= view.position.lsn {
        return None;
    }
    let off = |h: &EpochHistory| {
        matches!(h.place(view.position), Err(OffHistory::PastEnd { .. } | OffHistory::BeforeStart { .. }))
    };
    if off(auth) || view.history.as_ref().is_some_and(off) {
        return None;
    }
    if let Some(history) = &view.history
        && !history.entries().iter().any(|e| e.epoch == target.epoch)
    {
        view.history = Some(extended_to(Some(history), auth, target)?);
    }
    view.position = target;
    Some(())
}

/// `lsn` on `history`, named by the newest epoch whose range holds it.
fn named(history: &EpochHistory, lsn: Lsn) -> WalPosition {
    let entries = history.entries();
    let owner = entries.iter().rev().find(|e| e.start <= lsn).or(entries.first());
    WalPosition::new(owner.map_or(history.latest().epoch, |e| e.epoch), lsn)
}

/// The authority's history through `position`'s epoch.
fn through(auth: &EpochHistory, position: WalPosition) -> Option<EpochHistory> {
    let entries: Vec<_> = auth.entries().iter().copied().filter(|e| e.epoch <= position.epoch).collect();
    if entries.last().map(|e| e.epoch) != Some(position.epoch) {
        return None;
    }
    EpochHistory::new(entries).ok()
}

/// `history` (unknown: nothing) extended along the authority's through `position`'s epoch, if
/// it is a prefix of the authority's: a replica that catches up gains the epochs it lacks.
fn extended_to(
    history: Option<&EpochHistory>,
    auth: &EpochHistory,
    position: WalPosition,
) -> Option<EpochHistory> {
    let own = history.map_or(&[][..], EpochHistory::entries);
    let longer = through(auth, position)?;
    let prefix = longer.entries().get(..own.len()).is_some_and(|p| p == own);
    (prefix && longer.entries().len() > own.len()).then_some(longer)
}

/// `found` with every item whose absence still approves left out, one at a time, so that
/// leaving out any one that remains refuses.
fn reduced(
    policy: PromotionPolicy,
    request: &PromotionRequest,
    inputs: &ValidationInputs,
    mut found: Vec<Missing>,
) -> Vec<Missing> {
    'again: loop {
        for i in 0..found.len() {
            let mut without = found.clone();
            without.remove(i);
            if approves(policy, request, &applied(inputs, &without)) {
                found = without;
                continue 'again;
            }
        }
        return found;
    }
}

/// Every way to pick one value for each slot of `pool` that `subset` names, the first slot's
/// value varying slowest: the odometer over the slots' alternatives, most lenient first.
fn choices<'a>(pool: &'a [Vec<Missing>], subset: &'a [usize]) -> impl Iterator<Item = Vec<Missing>> + 'a {
    let count = subset.iter().fold(1_usize, |n, &i| n.saturating_mul(pool[i].len()));
    (0..count).map(move |mut n| {
        let mut chosen: Vec<Missing> = subset
            .iter()
            .rev()
            .map(|&i| {
                let slot = &pool[i];
                let item = slot[n % slot.len()].clone();
                n /= slot.len();
                item
            })
            .collect();
        chosen.reverse();
        chosen
    })
}

/// The `size`-element subsets of `0..n` as index lists, in lexicographic order.
struct Combinations {
    n: usize,
    next: Option<Vec<usize>>,
}

impl Combinations {
    fn new(n: usize, size: usize) -> Self {
        Combinations { n, next: (size <= n).then(|| (0..size).collect()) }
    }
}

impl Iterator for Combinations {
    type Item = Vec<usize>;
    fn next(&mut self) -> Option<Vec<usize>> {
        let current = self.next.take()?;
        let size = current.len();
        let mut following = current.clone();
        // The rightmost index that can still move right, moved, and those after it packed.
        let movable = (0..size).rev().find(|&i| following[i] < self.n - size + i);
        if let Some(i) = movable {
            following[i] += 1;
            for j in i + 1..size {
                following[j] = following[j - 1] + 1;
            }
            self.next = Some(following);
        }
        Some(current)
    }
}

#[cfg(test)]
mod tests {
    use super::{Combinations, Epoch, Lsn, Missing, WalPosition, choices, pool};
    use crate::evidence::{PrimaryReport, Stopped};
    use crate::inputs::{AuthorityView, NodeView, OldPrimary, ValidationInputs};
    use aerodb_core::{EpochHistory, EpochStart, NodeId, ReplicationState};

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    fn at(lsn: u64) -> WalPosition {
        WalPosition::new(Epoch::new(1), Lsn::new(lsn))
    }

    /// Epoch 1 led by pg1 (`[1@0]`), the old primary `old_primary`, its report's rule
    /// `ANY 1 (pg2, pg9)` and its stop statement `stopped`; pg2 (the candidate) at 1/100, pg4
    /// (named in no rule) ahead at 1/300, pg9 unobserved, no acknowledged position given. The
    /// pool's kinds, slot by slot, and each slot's value at the candidate's point (`own`).
    fn pool_of(old_primary: OldPrimary, stopped: Option<Stopped>) -> (Vec<&'static str>, Vec<Missing>) {
        let h = EpochHistory::new(vec![EpochStart { epoch: Epoch::new(1), start: Lsn::new(0) }]).unwrap();
        let mut report = PrimaryReport::new(Epoch::new(1), id("pg1"))
            .with_synchronous(vec!["ANY 1 (pg2, pg9)".parse().unwrap()])
            .unwrap();
        if let Some(stopped) = stopped {
            report = report.with_stop_requested().with_stopped(stopped);
        }
        let mut inputs = ValidationInputs::new(Some(AuthorityView::new(id("pg1"), h.clone())));
        inputs.nodes = vec![
            NodeView::new(id("pg2"), ReplicationState::ReplicaActive, at(100)).with_history(h.clone()),
            NodeView::new(id("pg4"), ReplicationState::ReplicaActive, at(300)).with_history(h),
        ];
        inputs.old_primary = old_primary;
        inputs.report = Some(report);
        let (slots, own) = pool(&inputs, &inputs.nodes[0]);
        let kind = |m: &Missing| match m {
            Missing::OldPrimaryStopped { .. } => "old primary stopped",
            Missing::CleanStop { .. } => "clean stop",
            Missing::Observed { .. } => "observed",
            Missing::Acknowledged { .. } => "acknowledged",
            _ => "other",
        };
        (slots.iter().filter_map(|slot| slot.first().map(kind)).collect(), own)
    }

    /// The search's pool offers the old primary's stop evidence only where it is missing: a
    /// stop confirmed only while nothing says the old primary stopped (P6-A1), a clean stop
    /// only while its agent stated no stop (one stated unclean is not contradicted, P6-F1), and
    /// neither for an old primary known active, which no evidence remedies (P6-A1). Evidence
    /// already there would only spend the search budget. Pins the `||` and the `&&`s and `!`s
    /// of `pool`'s conditions (through `candidates` an active old primary never reaches `pool`:
    /// `remedy` calls it unfixable first).
    #[test]
    fn the_pool_offers_stop_evidence_only_where_it_is_missing() {
        let unclean = Some(Stopped { checkpoint: at(50), clean: false });
        let rest = ["observed", "acknowledged"];
        let with = |first: &[&'static str]| [first, &rest[..]].concat();
        assert_eq!(pool_of(OldPrimary::Unknown, None).0, with(&["old primary stopped", "clean stop"]));
        assert_eq!(pool_of(OldPrimary::ConfirmedStopped, None).0, with(&["clean stop"]));
        assert_eq!(pool_of(OldPrimary::Unknown, unclean).0, rest);
        assert_eq!(pool_of(OldPrimary::ConfirmedStopped, unclean).0, rest);
        assert_eq!(pool_of(OldPrimary::KnownActive, None).0, rest);
    }

    /// What an unfixable node's blocker is shown with, and the search's fallback past its
    /// budget: every piece at the candidate's own point (1/100), not at the slot's most lenient
    /// value (pg9 observed at pg4's 1/300 would move the derived bound past the candidate,
    /// P6-S1). Pins `Missing::at_most` and the `==` that picks each slot's own value.
    #[test]
    fn own_evidence_is_each_piece_at_the_candidates_point() {
        let (_, own) = pool_of(OldPrimary::Unknown, None);
        let expected = [
            Missing::OldPrimaryStopped { primary: id("pg1") },
            Missing::CleanStop { primary: id("pg1"), at_most: at(100) },
            Missing::Observed { node: id("pg9"), at_most: at(100) },
            Missing::Acknowledged { at_most: at(100) },
        ];
        assert_eq!(own, expected);
        assert_eq!(
            own.iter().map(Missing::at_most).collect::<Vec<_>>(),
            [None, Some(at(100)), Some(at(100)), Some(at(100))]
        );
    }

    #[test]
    fn choices_run_the_first_slots_value_slowest() {
        let item = |l| Missing::Acknowledged { at_most: WalPosition::new(Epoch::new(1), Lsn::new(l)) };
        let pool = vec![vec![item(1), item(2)], vec![item(3)], vec![item(4), item(5)]];
        let all: Vec<Vec<Missing>> = choices(&pool, &[0, 2]).collect();
        let expected = [[item(1), item(4)], [item(1), item(5)], [item(2), item(4)], [item(2), item(5)]];
        assert_eq!(all, expected);
        assert_eq!(choices(&pool, &[]).collect::<Vec<_>>(), [Vec::<Missing>::new()]);
    }

    #[test]
    fn combinations_are_every_subset_once_in_order() {
        let all: Vec<Vec<usize>> = Combinations::new(4, 2).collect();
        assert_eq!(all, [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]);
        assert_eq!(Combinations::new(3, 0).collect::<Vec<_>>(), [Vec::<usize>::new()]);
        assert_eq!(Combinations::new(2, 3).count(), 0);
        assert_eq!(Combinations::new(5, 5).count(), 1);
    }
}
