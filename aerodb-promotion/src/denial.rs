//! Why a check failed: [`DenialReason`], the vocabulary of denials, each naming the one
//! invariant it protects (docs/PROTOCOL.md §4). The checks that produce them are `checks.rs`.

use aerodb_core::{Epoch, HaltReason, Lsn, NodeId, OffHistory, PartialCommit, RoleKind, WalPosition};
use serde::{Deserialize, Serialize};

use crate::invariant::Invariant;

/// Why a check failed. Each variant names the one invariant it protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DenialReason {
    /// The inputs hold no view of the candidate.
    #[error("the inputs hold no view of the candidate")]
    CandidateMissing,
    /// The candidate is not a replica.
    #[error("the candidate's replication role is {role}, not ReplicaActive")]
    CandidateNotReplica {
        /// Its role.
        role: RoleKind,
    },
    /// The candidate's replication halted.
    #[error("the candidate's replication is halted: {reason}")]
    CandidateHalted {
        /// Why it halted.
        reason: HaltReason,
    },
    /// No durable authority exists to take over from.
    #[error("no durable authority record exists to take over from")]
    NoAuthority,
    /// The authority epoch cannot be raised further.
    #[error("authority epoch {epoch} cannot be raised further")]
    EpochExhausted {
        /// The current epoch.
        epoch: Epoch,
    },
    /// Two views of one node disagree.
    #[error("the inputs describe node {node} more than once")]
    DuplicateNode {
        /// The node described twice.
        node: NodeId,
    },
    /// The candidate is the recorded primary: there is nothing to promote. (Screening rejects
    /// this; the check repeats it for inputs given to `decide` that differ from screening's.)
    #[error("the candidate {candidate} already is the primary at epoch {epoch}")]
    CandidateIsPrimary {
        /// The candidate.
        candidate: NodeId,
        /// The current epoch.
        epoch: Epoch,
    },
    /// A node other than the recorded primary reports being primary.
    #[error("node {node} reports PrimaryActive but the authority record names {primary}")]
    SecondPrimary {
        /// The node claiming to be primary.
        node: NodeId,
        /// The recorded primary.
        primary: NodeId,
    },
    /// Another node knows an epoch newer than the durable authority's: a newer authority may
    /// exist (a rolled-back or restored record, a promotion elsewhere), so the record is not
    /// the one authority.
    #[error(
        "node {node} knows epoch {epoch}, newer than the authority's epoch {authority}: the record may have gone back"
    )]
    NodeAhead {
        /// The node.
        node: NodeId,
        /// The newest epoch it knows.
        epoch: Epoch,
        /// The authority's epoch.
        authority: Epoch,
    },
    /// The candidate knows an epoch the authority does not.
    #[error("the candidate knows epoch {epoch}, newer than the authority's epoch {authority}")]
    CandidateAhead {
        /// The unknown epoch.
        epoch: Epoch,
        /// The authority's epoch.
        authority: Epoch,
    },
    /// The old primary is known to be active; force does not override this.
    #[error("the current primary {primary} is known to be active")]
    OldPrimaryActive {
        /// The current primary.
        primary: NodeId,
    },
    /// The old primary's state is unknown and force was not given.
    #[error("the current primary's state is unknown and the request does not assert it is down (force)")]
    OldPrimaryUnknown,
    /// The highest acknowledged position is unknown: none given, no synchronous rule reported
    /// for the authority's epoch, and no clean stop.
    #[error("the highest acknowledged WAL position is unknown")]
    AcknowledgedUnknown,
    /// The primary's reported synchronous rule bounds what was acknowledged only when enough of
    /// its standbys are observed, and fewer were.
    #[error(
        "too few synchronous standbys observed to bound what was acknowledged: {observed} of the {needed} needed"
    )]
    AcknowledgedUnderivable {
        /// Named standbys observed.
        observed: u8,
        /// How many must be (`n − k + 1`).
        needed: u8,
    },
    /// A name of the primary's reported synchronous rule matches, up to ASCII case (as
    /// PostgreSQL matches `application_name`), more than one observed node or another name of
    /// the rule: which standbys acknowledged is unknown.
    #[error(
        "synchronous standby name {name} matches more than one observed node or name up to case, as PostgreSQL compares them: what was acknowledged cannot be bounded"
    )]
    AcknowledgedAmbiguous {
        /// The name.
        name: NodeId,
    },
    /// The candidate lacks acknowledged writes.
    #[error("the candidate's WAL ends at {candidate}, before the acknowledged position {acknowledged}")]
    CandidateBehind {
        /// The candidate's position.
        candidate: WalPosition,
        /// The highest acknowledged position.
        acknowledged: WalPosition,
    },
    /// The acknowledged position is in an earlier epoch that ends, on the candidate's own
    /// history, before that position: the candidate lacks acknowledged writes.
    #[error("the candidate's epoch {} ends at {end}, before the acknowledged position {acknowledged}", end.epoch)]
    AcknowledgedPastEpochEnd {
        /// Where the candidate's WAL in the acknowledged epoch ends.
        end: WalPosition,
        /// The highest acknowledged position.
        acknowledged: WalPosition,
    },
    /// The acknowledged position lies before its epoch begins on the candidate's history: it was
    /// written on another branch of that epoch, which the candidate does not hold.
    #[error(
        "the acknowledged position {acknowledged} is before epoch {} begins at {start} on the candidate's history: it lies on another branch of that epoch",
        start.epoch
    )]
    AcknowledgedBeforeEpochStart {
        /// Where the acknowledged position's epoch begins on the candidate's history.
        start: WalPosition,
        /// The highest acknowledged position.
        acknowledged: WalPosition,
    },
    /// The acknowledged position is in an epoch the candidate's history does not include.
    #[error(
        "the acknowledged position {acknowledged} is in epoch {epoch}, which the candidate's history does not include"
    )]
    AcknowledgedEpochMissing {
        /// The epoch the candidate never had.
        epoch: Epoch,
        /// The highest acknowledged position.
        acknowledged: WalPosition,
    },
    /// The candidate's epoch history is unknown.
    #[error("the candidate's epoch history is unknown")]
    HistoryUnknown,
    /// The candidate's WAL diverged from the authoritative history.
    #[error("the candidate's WAL diverges from the authoritative history in epoch {epoch} after LSN {at}")]
    HistoryDiverged {
        /// First epoch that differs.
        epoch: Epoch,
        /// LSN after which they differ.
        at: Lsn,
    },
    /// The candidate's own position is not on its own history: the input contradicts itself.
    #[error("the candidate's reported position contradicts its own history: {off}")]
    PositionOffHistory {
        /// How the position misses the history.
        off: OffHistory,
    },
    /// The candidate's position is in an epoch older than the authoritative history retains.
    #[error(
        "the candidate's WAL position is in epoch {epoch}, older than every epoch the authoritative history retains"
    )]
    PositionEpochUnknown {
        /// The epoch.
        epoch: Epoch,
    },
    /// The candidate stops before the current epoch's switch point: it lacks authoritative WAL.
    #[error("the candidate's WAL ends at LSN {candidate}, before epoch {epoch} begins at LSN {start}")]
    BehindSwitchPoint {
        /// The current epoch.
        epoch: Epoch,
        /// Where it begins.
        start: Lsn,
        /// Where the candidate ends.
        candidate: Lsn,
    },
    /// The candidate's MVCC summary is unknown.
    #[error("the candidate's MVCC visibility boundary is unknown")]
    MvccUnknown,
    /// The candidate's MVCC summary contradicts itself or its WAL: unknown input (P6-F1).
    #[error("the candidate's MVCC summary is inconsistent: commit at LSN {} with {} of {} records applied, WAL end LSN {wal_end}", commit.commit_lsn, commit.applied, commit.total)]
    MvccInconsistent {
        /// The commit being applied, as reported.
        commit: PartialCommit,
        /// End of the candidate's WAL.
        wal_end: Lsn,
    },
    /// A commit is partly visible on the candidate.
    #[error("commit at LSN {} is partly applied on the candidate ({} of {} records)", commit.commit_lsn, commit.applied, commit.total)]
    PartialCommitVisible {
        /// The half-applied commit.
        commit: PartialCommit,
    },
    /// The candidate shows a commit its WAL does not hold.
    #[error("the candidate shows commit LSN {visible_commit} but its WAL ends at LSN {wal_end}")]
    PhantomCommit {
        /// Newest visible commit.
        visible_commit: Lsn,
        /// End of its WAL.
        wal_end: Lsn,
    },
}

impl DenialReason {
    /// The invariant this denial upholds.
    pub const fn invariant(&self) -> Invariant {
        use DenialReason::*;
        match self {
            CandidateNotReplica { .. } | CandidateHalted { .. } => Invariant::P6A3,
            DuplicateNode { .. }
            | CandidateIsPrimary { .. }
            | SecondPrimary { .. }
            | CandidateAhead { .. }
            | NodeAhead { .. } => Invariant::P6A1,
            OldPrimaryActive { .. } | OldPrimaryUnknown => Invariant::P6A1,
            CandidateBehind { .. }
            | AcknowledgedPastEpochEnd { .. }
            | AcknowledgedBeforeEpochStart { .. }
            | AcknowledgedEpochMissing { .. } => Invariant::P6S1,
            HistoryDiverged { .. } | PositionEpochUnknown { .. } | BehindSwitchPoint { .. } => {
                Invariant::P6S2
            }
            PartialCommitVisible { .. } | PhantomCommit { .. } => Invariant::P6S3,
            CandidateMissing
            | NoAuthority
            | EpochExhausted { .. }
            | AcknowledgedUnknown
            | AcknowledgedUnderivable { .. }
            | AcknowledgedAmbiguous { .. }
            | HistoryUnknown
            | PositionOffHistory { .. }
            | MvccUnknown
            | MvccInconsistent { .. } => Invariant::P6F1,
        }
    }
}
