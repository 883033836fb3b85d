//! The validator's input contract: what a control plane observed of its cluster, gathered by
//! the caller as plain values. Nothing here is inferred from timeouts or liveness (P6-A3, §5):
//! what is unknown is `None` or `Unknown`, and unknown denies (P6-F1).

use aerodb_core::{Epoch, EpochHistory, MvccBoundary, NodeId, ReplicationState, WalPosition};
use serde::{Deserialize, Serialize};

use crate::evidence::PrimaryReport;

/// The durable authority a promotion would replace: its primary and its epoch history.
/// Usually [`AuthorityRecord::view`](crate::AuthorityRecord::view) of the recovered record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthorityView {
    /// The node holding write authority.
    pub primary: NodeId,
    /// The authoritative epoch history; its newest epoch is the current epoch.
    pub history: EpochHistory,
}

impl AuthorityView {
    /// `primary` holding authority over `history`, whose newest epoch is the current one.
    pub fn new(primary: NodeId, history: EpochHistory) -> Self {
        AuthorityView { primary, history }
    }

    /// The current authority epoch.
    pub fn epoch(&self) -> Epoch {
        self.history.latest().epoch
    }
}

/// What the controller knows of one node. Made with [`NodeView::new`]; what is not given
/// stays unknown, and unknown denies (P6-F1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct NodeView {
    /// The node.
    pub id: NodeId,
    /// Its Phase 5 role.
    pub replication: ReplicationState,
    /// Its last WAL record.
    pub position: WalPosition,
    /// Its epoch history, if known.
    pub history: Option<EpochHistory>,
    /// Its MVCC visibility summary, if known.
    pub mvcc: Option<MvccBoundary>,
}

impl NodeView {
    /// Node `id` in role `replication`, its WAL ending at `position`; history and MVCC
    /// boundary unknown until given.
    pub fn new(id: NodeId, replication: ReplicationState, position: WalPosition) -> Self {
        NodeView { id, replication, position, history: None, mvcc: None }
    }

    /// With the node's epoch history (its timeline history).
    #[must_use]
    pub fn with_history(mut self, history: EpochHistory) -> Self {
        self.history = Some(history);
        self
    }

    /// With the node's MVCC visibility summary.
    #[must_use]
    pub fn with_mvcc(mut self, mvcc: MvccBoundary) -> Self {
        self.mvcc = Some(mvcc);
        self
    }
}

/// What is known of the current primary's liveness. Never inferred from timeouts (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum OldPrimary {
    /// Confirmed stopped (e.g. its process or host was shut down by the operator).
    ConfirmedStopped,
    /// Confirmed fenced for good: it has seen an epoch above the one it was primary for, so its
    /// gate can never admit a write at that epoch again. Writes merely blocked for now (a
    /// primary whose grant has not been rebound yet, a standby its agent may still promote) are
    /// not fenced: it can still start writing while its epoch is durable, so report `Unknown`.
    Fenced,
    /// Known to be running and admitting writes.
    KnownActive,
    /// Cannot be told (partition, no report).
    Unknown,
}

impl std::fmt::Display for OldPrimary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OldPrimary::ConfirmedStopped => "ConfirmedStopped",
            OldPrimary::Fenced => "Fenced",
            OldPrimary::KnownActive => "KnownActive",
            OldPrimary::Unknown => "Unknown",
        })
    }
}

/// Everything the validator reads. Plain values, gathered by the caller. Made with
/// [`ValidationInputs::new`]: every part not given is unknown, and unknown denies (P6-F1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ValidationInputs {
    /// The durable authority, or `None` when no authority record exists.
    pub authority: Option<AuthorityView>,
    /// Every node the controller has a view of, the candidate included.
    pub nodes: Vec<NodeView>,
    /// What is known of the current primary.
    pub old_primary: OldPrimary,
    /// Highest acknowledged (committed) WAL position, if given (by the operator or the calling
    /// control plane); the validator also derives one from [`report`](Self::report).
    pub acknowledged: Option<WalPosition>,
    /// What the authority's primary reported durably for its epoch: its synchronous rules and
    /// its agent's stop statement. A report of another epoch or primary is evidence of nothing.
    pub report: Option<PrimaryReport>,
}

impl ValidationInputs {
    /// Inputs over the durable `authority` (`None`: no record): no node described yet, the old
    /// primary's state [`Unknown`](OldPrimary::Unknown), the acknowledged position unknown.
    pub fn new(authority: Option<AuthorityView>) -> Self {
        ValidationInputs {
            authority,
            nodes: Vec::new(),
            old_primary: OldPrimary::Unknown,
            acknowledged: None,
            report: None,
        }
    }

    /// With one more node described.
    #[must_use]
    pub fn with_node(mut self, node: NodeView) -> Self {
        self.nodes.push(node);
        self
    }

    /// With what is known of the current primary.
    #[must_use]
    pub fn with_old_primary(mut self, old_primary: OldPrimary) -> Self {
        self.old_primary = old_primary;
        self
    }

    /// With the highest acknowledged (committed) WAL position, given rather than derived.
    #[must_use]
    pub fn with_acknowledged(mut self, acknowledged: WalPosition) -> Self {
        self.acknowledged = Some(acknowledged);
        self
    }

    /// With the primary's durable report, as read from the store beside the authority.
    #[must_use]
    pub fn with_report(mut self, report: PrimaryReport) -> Self {
        self.report = Some(report);
        self
    }

    /// The report, if it speaks for the current authority's epoch and primary.
    pub fn current_report(&self) -> Option<&PrimaryReport> {
        let authority = self.authority.as_ref()?;
        self.report.as_ref().filter(|r| r.is_for(authority.epoch(), authority.primary))
    }

    /// The view of node `id`, if the inputs describe it.
    pub fn node(&self, id: NodeId) -> Option<&NodeView> {
        self.nodes.iter().find(|n| n.id == id)
    }
}

/// What a control plane observed of its cluster: [`ValidationInputs`] without the authority,
/// which comes from the store. Its JSON form is what `aerodb-promote promote --observed` reads
/// (see `examples/observed/`); unknown fields are refused (P6-F1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Observation {
    /// Every node observed, the candidate included.
    pub nodes: Vec<NodeView>,
    /// What is known of the current primary.
    pub old_primary: OldPrimary,
    /// The highest acknowledged (committed) WAL position, if known.
    pub acknowledged: Option<WalPosition>,
}

impl Observation {
    /// What was observed: every node, the current primary's state and the acknowledged bound.
    pub fn new(nodes: Vec<NodeView>, old_primary: OldPrimary, acknowledged: Option<WalPosition>) -> Self {
        Observation { nodes, old_primary, acknowledged }
    }

    /// The validation inputs of this observation over the durable `authority`.
    pub fn over(self, authority: Option<AuthorityView>) -> ValidationInputs {
        ValidationInputs {
            authority,
            nodes: self.nodes,
            old_primary: self.old_primary,
            acknowledged: self.acknowledged,
            report: None,
        }
    }
}
