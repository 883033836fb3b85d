//! A replica's MVCC visibility summary: is what readers see a whole-commit prefix of the WAL? (P6-S3)

use serde::{Deserialize, Serialize};

use crate::wal::Lsn;

/// A commit whose records are only partly applied on the replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialCommit {
    /// LSN of the commit record.
    pub commit_lsn: Lsn,
    /// Records of the commit already applied.
    pub applied: u32,
    /// Records the commit has in all.
    pub total: u32,
}

/// What a replica's readers can see, summarised for promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MvccBoundary {
    /// LSN of the newest commit visible to new snapshots.
    pub visible_commit: Lsn,
    /// A commit being applied right now, if any.
    pub applying: Option<PartialCommit>,
}

/// Why a replica's visible state is not a commit boundary of its WAL. Exhaustive on purpose:
/// the validator matches every variant, so a new one cannot slip past it unhandled (P6-F1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BoundaryViolation {
    /// The summary contradicts itself or the WAL: a commit being applied that lies past the
    /// WAL end, has no records, or has more records applied than it has. Inconsistent input is
    /// unknown input.
    Inconsistent {
        /// The commit being applied.
        commit: PartialCommit,
        /// End of the replica's WAL.
        wal_end: Lsn,
    },
    /// Part of a commit is applied: promoting now could expose a partial commit.
    PartialCommitVisible {
        /// The half-applied commit.
        commit: PartialCommit,
    },
    /// Readers see a commit the replica's WAL does not hold (a phantom commit).
    PhantomCommit {
        /// Newest visible commit.
        visible_commit: Lsn,
        /// End of the replica's WAL.
        wal_end: Lsn,
    },
}

impl MvccBoundary {
    /// A replica at rest: everything through `visible_commit` applied, nothing half-done.
    pub const fn at_rest(visible_commit: Lsn) -> Self {
        MvccBoundary { visible_commit, applying: None }
    }

    /// Whether the visible state is a whole-commit prefix of a WAL ending at `wal_end` (P6-S3).
    pub fn check(&self, wal_end: Lsn) -> Result<(), BoundaryViolation> {
        if let Some(commit) =
            self.applying.filter(|c| c.commit_lsn > wal_end || c.applied > c.total || c.total == 0)
        {
            return Err(BoundaryViolation::Inconsistent { commit, wal_end });
        }
        if let Some(commit) = self.applying.filter(|c| c.applied < c.total) {
            return Err(BoundaryViolation::PartialCommitVisible { commit });
        }
        if self.visible_commit > wal_end {
            return Err(BoundaryViolation::PhantomCommit { visible_commit: self.visible_commit, wal_end });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_at_rest_is_on_a_boundary() {
        assert_eq!(MvccBoundary::at_rest(Lsn::new(10)).check(Lsn::new(12)), Ok(()));
    }

    #[test]
    fn a_half_applied_commit_is_not() {
        let commit = PartialCommit { commit_lsn: Lsn::new(11), applied: 1, total: 3 };
        let boundary = MvccBoundary { visible_commit: Lsn::new(10), applying: Some(commit) };
        assert_eq!(boundary.check(Lsn::new(12)), Err(BoundaryViolation::PartialCommitVisible { commit }));
    }

    #[test]
    fn a_fully_applied_commit_is() {
        let commit = PartialCommit { commit_lsn: Lsn::new(11), applied: 3, total: 3 };
        let boundary = MvccBoundary { visible_commit: Lsn::new(11), applying: Some(commit) };
        assert_eq!(boundary.check(Lsn::new(12)), Ok(()));
    }

    /// P6-F1: an applying commit past the WAL end, without records, or over-applied, is not a
    /// boundary.
    #[test]
    fn an_inconsistent_summary_is_refused() {
        for commit in [
            PartialCommit { commit_lsn: Lsn::new(13), applied: 3, total: 3 },
            PartialCommit { commit_lsn: Lsn::new(13), applied: 1, total: 3 },
            PartialCommit { commit_lsn: Lsn::new(11), applied: 4, total: 3 },
            PartialCommit { commit_lsn: Lsn::new(0), applied: 0, total: 0 },
        ] {
            let boundary = MvccBoundary { visible_commit: Lsn::new(10), applying: Some(commit) };
            assert_eq!(
                boundary.check(Lsn::new(12)),
                Err(BoundaryViolation::Inconsistent { commit, wal_end: Lsn::new(12) })
            );
        }
    }

    #[test]
    fn a_commit_beyond_the_wal_is_a_phantom() {
        assert_eq!(
            MvccBoundary::at_rest(Lsn::new(20)).check(Lsn::new(12)),
            Err(BoundaryViolation::PhantomCommit { visible_commit: Lsn::new(20), wal_end: Lsn::new(12) })
        );
    }

    /// P6-S3 at the boundary: a commit record that is the WAL's last record, and a visible
    /// commit at the WAL end, are consistent; one past it is not.
    #[test]
    fn the_wal_end_itself_is_inside_the_wal() {
        assert_eq!(MvccBoundary::at_rest(Lsn::new(12)).check(Lsn::new(12)), Ok(()));
        let last = PartialCommit { commit_lsn: Lsn::new(12), applied: 3, total: 3 };
        assert_eq!(
            MvccBoundary { visible_commit: Lsn::new(12), applying: Some(last) }.check(Lsn::new(12)),
            Ok(())
        );
        let half = PartialCommit { commit_lsn: Lsn::new(12), applied: 1, total: 3 };
        assert_eq!(
            MvccBoundary { visible_commit: Lsn::new(10), applying: Some(half) }.check(Lsn::new(12)),
            Err(BoundaryViolation::PartialCommitVisible { commit: half })
        );
    }
}
