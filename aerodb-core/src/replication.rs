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

/// A node's Phase 5 replication role. Unknown fields of a variant are refused (P6-F1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

impl fmt::Display for ReplicationState {
    /// `ReplicaActive`, or `ReplicationHalted(wal_gap)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplicationState::ReplicationHalted { reason } => write!(f, "ReplicationHalted({reason})"),
            other => fmt::Display::fmt(&other.kind(), f),
        }
    }
}

impl fmt::Display for RoleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RoleKind::Disabled => "Disabled",
            RoleKind::Uninitialized => "Uninitialized",
            RoleKind::PrimaryActive => "PrimaryActive",
            RoleKind::ReplicaActive => "ReplicaActive",
            RoleKind::ReplicationHalted => "ReplicationHalted",
        })
    }
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
    /// Only with proof of a durable authority record naming the node (P6-A3): the bootstrap
    /// record, a committed promotion, or the record recovered at restart. Never
    /// [`ReplicationState::change_to`]; `aerodb-promotion`'s `PrimaryGrant` makes the change.
    Authority,
}

/// Phase 5's allowed role changes; every other change is refused.
pub const ROLE_CHANGES: [(RoleKind, RoleKind, ChangePath); 8] = [
    (RoleKind::Disabled, RoleKind::Uninitialized, ChangePath::Replication),
    (RoleKind::Uninitialized, RoleKind::Disabled, ChangePath::Replication),
    (RoleKind::Uninitialized, RoleKind::PrimaryActive, ChangePath::Authority),
    (RoleKind::Uninitialized, RoleKind::ReplicaActive, ChangePath::Replication),
    (RoleKind::PrimaryActive, RoleKind::ReplicationHalted, ChangePath::Replication),
    (RoleKind::ReplicaActive, RoleKind::ReplicationHalted, ChangePath::Replication),
    (RoleKind::ReplicationHalted, RoleKind::Uninitialized, ChangePath::Replication),
    (RoleKind::ReplicaActive, RoleKind::PrimaryActive, ChangePath::Authority),
];

/// A role change Phase 5 does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoleChangeError {
    /// Not in [`ROLE_CHANGES`].
    #[error("replication role change {from} -> {to} is not allowed")]
    NotAllowed {
        /// Current role.
        from: RoleKind,
        /// Requested role.
        to: RoleKind,
    },
    /// Becoming primary needs a durable authority record naming the node (P6-A3).
    #[error(
        "replication role change {from} -> {to} needs a durable authority record naming this node (P6-A3)"
    )]
    AuthorityOnly {
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
    /// and every change to `PrimaryActive`, which needs a durable record (P6-A3). No path
    /// through this function, however many steps, reaches `PrimaryActive`.
    pub fn change_to(self, next: ReplicationState) -> Result<ReplicationState, RoleChangeError> {
        match self.path_to(next)? {
            ChangePath::Replication => Ok(next),
            ChangePath::Authority => {
                Err(RoleChangeError::AuthorityOnly { from: self.kind(), to: next.kind() })
            }
        }
    }

    /// Whether a node in this role may become `PrimaryActive` once a durable record names it:
    /// only a replica or an uninitialized node. A check, not the change: the change is made
    /// only by whoever holds the proof of that record.
    pub fn check_becoming_primary(self) -> Result<(), RoleChangeError> {
        let next = ReplicationState::PrimaryActive;
        match self.path_to(next)? {
            ChangePath::Authority => Ok(()),
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
                    Some((_, _, ChangePath::Authority)) => {
                        assert!(matches!(result, Err(RoleChangeError::AuthorityOnly { .. })))
                    }
                    None => assert!(matches!(result, Err(RoleChangeError::NotAllowed { .. }))),
                }
            }
        }
    }

    #[test]
    fn only_a_replica_or_an_uninitialized_node_may_become_primary() {
        for from in all_states() {
            let may = matches!(from, ReplicationState::ReplicaActive | ReplicationState::Uninitialized);
            assert_eq!(from.check_becoming_primary().is_ok(), may, "{from:?}");
        }
    }

    /// P6-A3: no sequence of ordinary role changes reaches `PrimaryActive` (the old detour was
    /// `ReplicaActive → ReplicationHalted → Uninitialized → PrimaryActive`).
    #[test]
    fn no_chain_of_ordinary_changes_reaches_primary() {
        let mut reached: Vec<ReplicationState> =
            all_states().into_iter().filter(|s| *s != ReplicationState::PrimaryActive).collect();
        let mut frontier = reached.clone();
        while let Some(from) = frontier.pop() {
            for to in all_states() {
                if let Ok(next) = from.change_to(to) {
                    assert_ne!(next, ReplicationState::PrimaryActive, "{from:?} -> {to:?}");
                    if !reached.contains(&next) {
                        reached.push(next);
                        frontier.push(next);
                    }
                }
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

    /// Roles render as operators read them, with no Rust debug syntax.
    #[test]
    fn roles_render_as_text() {
        assert_eq!(ReplicationState::ReplicaActive.to_string(), "ReplicaActive");
        assert_eq!(ReplicationState::PrimaryActive.to_string(), "PrimaryActive");
        assert_eq!(ReplicationState::Uninitialized.to_string(), "Uninitialized");
        assert_eq!(ReplicationState::Disabled.to_string(), "Disabled");
        let halted = ReplicationState::ReplicationHalted { reason: HaltReason::WalGap };
        assert_eq!(halted.to_string(), "ReplicationHalted(wal_gap)");
        assert_eq!(RoleKind::ReplicationHalted.to_string(), "ReplicationHalted");
        for reason in HaltReason::ALL {
            assert_eq!(reason.to_string(), reason.as_str());
        }
    }
}
