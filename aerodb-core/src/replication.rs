//! Phase 5 replication roles and the one list of role changes it allows.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why replication stopped on a node. Each reason is its own promotion denial (P6-A3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HaltReason {
    /// The replica is missing WAL it needs to continue.
    WalGap,
    /// The replica's WAL diverged from the primary's history.
    HistoryDivergence,
    /// The node could not tell which node holds write authority.
    AuthorityAmbiguity,
    /// A WAL record failed its integrity check.
    WalCorruption,
    /// A snapshot failed its integrity check.
    SnapshotIntegrity,
    /// Replication is misconfigured.
    Configuration,
}

impl HaltReason {
    /// Every reason, in declaration order.
    pub const ALL: [HaltReason; 6] = [
        HaltReason::WalGap,
        HaltReason::HistoryDivergence,
        HaltReason::AuthorityAmbiguity,
        HaltReason::WalCorruption,
        HaltReason::SnapshotIntegrity,
        HaltReason::Configuration,
    ];

    /// Stable snake_case name used in events and explanations.
    pub const fn as_str(self) -> &'static str {
        match self {
            HaltReason::WalGap => "wal_gap",
            HaltReason::HistoryDivergence => "history_divergence",
            HaltReason::AuthorityAmbiguity => "authority_ambiguity",
            HaltReason::WalCorruption => "wal_corruption",
            HaltReason::SnapshotIntegrity => "snapshot_integrity",
            HaltReason::Configuration => "configuration",
        }
    }
}

impl fmt::Display for HaltReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node's Phase 5 replication role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReplicationState {
    /// Replication is switched off on this node.
    Disabled,
    /// Replication is on but the node has no role yet.
    Uninitialized,
    /// The node is the primary and may admit writes.
    PrimaryActive,
    /// The node follows the primary's WAL.
    ReplicaActive,
    /// Replication stopped for `reason`; the node neither leads nor follows.
    ReplicationHalted {
        /// Why it stopped.
        reason: HaltReason,
    },
}

/// The role without its data, for the role-change table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RoleKind {
    /// [`ReplicationState::Disabled`].
    Disabled,
    /// [`ReplicationState::Uninitialized`].
    Uninitialized,
    /// [`ReplicationState::PrimaryActive`].
    PrimaryActive,
    /// [`ReplicationState::ReplicaActive`].
    ReplicaActive,
    /// [`ReplicationState::ReplicationHalted`].
    ReplicationHalted,
}

/// Who may perform a role change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChangePath {
    /// Ordinary Phase 5 operation.
    Replication,
    /// Only a durable promotion (P6-A3): never [`ReplicationState::change_to`].
    Promotion,
}

/// Phase 5's allowed role changes; every other change is refused.
pub const ROLE_CHANGES: [(RoleKind, RoleKind, ChangePath); 8] = [
    (RoleKind::Disabled, RoleKind::Uninitialized, ChangePath::Replication),
    (RoleKind::Uninitialized, RoleKind::Disabled, ChangePath::Replication),
    (RoleKind::Uninitialized, RoleKind::PrimaryActive, ChangePath::Replication),
    (RoleKind::Uninitialized, RoleKind::ReplicaActive, ChangePath::Replication),
    (RoleKind::PrimaryActive, RoleKind::ReplicationHalted, ChangePath::Replication),
    (RoleKind::ReplicaActive, RoleKind::ReplicationHalted, ChangePath::Replication),
    (RoleKind::ReplicationHalted, RoleKind::Uninitialized, ChangePath::Replication),
    (RoleKind::ReplicaActive, RoleKind::PrimaryActive, ChangePath::Promotion),
];

/// A role change Phase 5 does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RoleChangeError {
    /// Not in [`ROLE_CHANGES`].
    #[error("replication role change {from:?} -> {to:?} is not allowed")]
    NotAllowed {
        /// Current role.
        from: RoleKind,
        /// Requested role.
        to: RoleKind,
    },
    /// Replica to primary happens only through promotion (P6-A3).
    #[error("replication role change {from:?} -> {to:?} happens only through a durable promotion (P6-A3)")]
    PromotionOnly {
        /// Current role.
        from: RoleKind,
        /// Requested role.
        to: RoleKind,
    },
}

impl ReplicationState {
    /// The role without its data.
    pub const fn kind(self) -> RoleKind {
        match self {
            ReplicationState::Disabled => RoleKind::Disabled,
            ReplicationState::Uninitialized => RoleKind::Uninitialized,
            ReplicationState::PrimaryActive => RoleKind::PrimaryActive,
            ReplicationState::ReplicaActive => RoleKind::ReplicaActive,
            ReplicationState::ReplicationHalted { .. } => RoleKind::ReplicationHalted,
        }
    }

    fn path_to(self, next: ReplicationState) -> Result<ChangePath, RoleChangeError> {
        let (from, to) = (self.kind(), next.kind());
        ROLE_CHANGES
            .iter()
            .find(|(f, t, _)| *f == from && *t == to)
            .map(|(_, _, path)| *path)
            .ok_or(RoleChangeError::NotAllowed { from, to })
    }

    /// Applies an ordinary Phase 5 role change, refusing anything not in [`ROLE_CHANGES`]
    /// and the promotion-only change (P6-A3).
    pub fn change_to(self, next: ReplicationState) -> Result<ReplicationState, RoleChangeError> {
        match self.path_to(next)? {
            ChangePath::Replication => Ok(next),
            ChangePath::Promotion => {
                Err(RoleChangeError::PromotionOnly { from: self.kind(), to: next.kind() })
            }
        }
    }

    /// Replica → primary, the promotion-only change. Called by the promotion crate after the
    /// durable authority commit; anything but a replica is refused.
    pub fn promote(self) -> Result<ReplicationState, RoleChangeError> {
        let next = ReplicationState::PrimaryActive;
        match self.path_to(next)? {
            ChangePath::Promotion => Ok(next),
            ChangePath::Replication => {
                Err(RoleChangeError::NotAllowed { from: self.kind(), to: next.kind() })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_states() -> Vec<ReplicationState> {
        let mut states = vec![
            ReplicationState::Disabled,
            ReplicationState::Uninitialized,
            ReplicationState::PrimaryActive,
            ReplicationState::ReplicaActive,
        ];
        states.extend(HaltReason::ALL.map(|reason| ReplicationState::ReplicationHalted { reason }));
        states
    }

    #[test]
    fn only_listed_changes_are_allowed() {
        for from in all_states() {
            for to in all_states() {
                let listed = ROLE_CHANGES.iter().find(|(f, t, _)| *f == from.kind() && *t == to.kind());
                let result = from.change_to(to);
                match listed {
                    Some((_, _, ChangePath::Replication)) => assert_eq!(result, Ok(to)),
                    Some((_, _, ChangePath::Promotion)) => {
                        assert!(matches!(result, Err(RoleChangeError::PromotionOnly { .. })))
                    }
                    None => assert!(matches!(result, Err(RoleChangeError::NotAllowed { .. }))),
                }
            }
        }
    }

    #[test]
    fn only_a_replica_can_be_promoted() {
        for from in all_states() {
            let result = from.promote();
            if from == ReplicationState::ReplicaActive {
                assert_eq!(result, Ok(ReplicationState::PrimaryActive));
            } else {
                assert!(result.is_err(), "{from:?} must not be promotable");
            }
        }
    }

    #[test]
    fn halt_reasons_have_distinct_names() {
        let mut names: Vec<_> = HaltReason::ALL.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), HaltReason::ALL.len());
    }
}
