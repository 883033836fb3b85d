//! The commit step's own parts: why a commit did not happen, and the successor record it
//! proposes, computed only from a validator approval and the durable authority (P6-A1).

use aerodb_core::Epoch;

use crate::record::{AuthorityRecord, RecordError, RequestSummary};
use crate::store::{AuthorityStore, Conflict, PredecessorMismatch, Proposal, StoreError};
use crate::validator::Approval;

/// Why the authority switch did not happen (or may not have).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommitError {
    /// The durable authority is no longer the one validated against: nothing was written (P6-A1).
    #[error(transparent)]
    Conflict(Conflict),
    /// The store holds another authority at the validated epoch than the one the successor was
    /// made from (its compare-and-swap on the whole predecessor): nothing was written (P6-A1).
    #[error(transparent)]
    PredecessorMismatch(PredecessorMismatch),
    /// The durable record at the validated epoch differs from the validated authority view.
    #[error("the durable authority at epoch {epoch} is not the authority that was validated")]
    StaleAuthority {
        /// The epoch.
        epoch: Epoch,
    },
    /// The successor record breaks a record rule.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The primary report the decision rested on changed before the commit: nothing was
    /// written (P6-A1).
    #[error("the primary report the decision rested on changed since: nothing was written")]
    EvidenceChanged,
    /// The store failed; whether the new record is durable is decided only by what is on disk.
    #[error("authority store failed during the commit: {0}")]
    Store(StoreError),
}

impl CommitError {
    /// Whether the authority changed since validation: a certain outcome, nothing was written
    /// by this attempt (P6-A1). Every other error leaves the outcome to recovery (P6-F2).
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            CommitError::Conflict { .. }
                | CommitError::PredecessorMismatch { .. }
                | CommitError::StaleAuthority { .. }
                | CommitError::EvidenceChanged
        )
    }
}

impl From<StoreError> for CommitError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(conflict) => CommitError::Conflict(conflict),
            StoreError::PredecessorMismatch(mismatch) => CommitError::PredecessorMismatch(mismatch),
            StoreError::EvidenceChanged => CommitError::EvidenceChanged,
            other => CommitError::Store(other),
        }
    }
}

/// The record that succeeds the durable one, if it is still exactly the authority validated
/// against, as the one proposal a store accepts from a promotion (P6-A1).
pub(crate) fn successor<St: AuthorityStore + ?Sized>(
    store: &St,
    approval: &Approval,
) -> Result<Proposal, CommitError> {
    let plan = approval.plan();
    let current = store.load()?;
    let found = current.as_ref().map(AuthorityRecord::epoch);
    let Some(current) = current.filter(|c| c.epoch() == plan.basis_epoch) else {
        return Err(CommitError::Conflict(Conflict { expected: Some(plan.basis_epoch), found }));
    };
    // The plan's history must be exactly the durable one plus the new epoch's switch point.
    let validated = current.primary() == plan.previous_primary
        && plan.history.entries().split_last().is_some_and(|(new, validated)| {
            validated == current.epoch_history().entries()
                && (new.epoch, new.start) == (plan.new_epoch, plan.start.lsn)
        });
    if !validated {
        return Err(CommitError::StaleAuthority { epoch: current.epoch() });
    }
    let summary = RequestSummary::of(approval.request(), plan);
    let successor = current.succeeded_by(plan, summary)?;
    // The whole durable record is the predecessor: the store's compare-and-swap refuses the
    // successor over anything else, at this epoch included (P6-A1, `check_commit`).
    Ok(Proposal::new(Some(current), successor).resting_on(plan.report.clone()))
}
