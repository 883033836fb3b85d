//! The validator's input contract: what a control plane observed of its cluster, gathered by
//! the caller as plain values. Nothing here is inferred from timeouts or liveness (P6-A3, §5):
//! what is unknown is `None` or `Unknown`, and unknown denies (P6-F1).

use aerodb_core::{Epoch, EpochHistory, MvccBoundary, NodeId, ReplicationState, WalPosition};
use serde::{Deserialize, Serialize};

/// The durable authority a promotion would replace: its primary and its epoch history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorityView {
    /// The node holding write authority.
    pub primary: NodeId,
    /// The authoritative epoch history; its newest epoch is the current epoch.
    pub history: EpochHistory,
}

impl AuthorityView {
    /// The current authority epoch.
    pub fn epoch(&self) -> Epoch {
        self.history.latest().epoch
    }
}

/// What the controller knows of one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// What is known of the current primary's liveness. Never inferred from timeouts (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OldPrimary {
    /// Confirmed stopped (e.g. its process or host was shut down by the operator).
    ConfirmedStopped,
    /// Confirmed fenced: it has seen a higher epoch or its writes are blocked.
    Fenced,
    /// Known to be running and admitting writes.
    KnownActive,
    /// Cannot be told (partition, no report).
    Unknown,
}

/// Everything the validator reads. Plain values, gathered by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationInputs {
    /// The durable authority, or `None` when no authority record exists.
    pub authority: Option<AuthorityView>,
    /// Every node the controller has a view of, the candidate included.
    pub nodes: Vec<NodeView>,
    /// What is known of the current primary.
    pub old_primary: OldPrimary,
    /// Highest acknowledged (committed) WAL position, if known.
    pub acknowledged: Option<WalPosition>,
}

impl ValidationInputs {
    /// The view of node `id`, if the inputs describe it.
    pub fn node(&self, id: NodeId) -> Option<&NodeView> {
        self.nodes.iter().find(|n| n.id == id)
    }
}
