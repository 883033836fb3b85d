//! The authority transition (stage 6.4): one durable commit; its grant rebinds the new primary.

use aerodb_core::Epoch;

use crate::record::{AuthorityRecord, RecordError, RequestSummary};
use crate::recovery::{Recovered, recover};
use crate::state::{Claim, Committed, Promotion, PromotionState, PromotionSucceeded, Transition, Unpack};
use crate::steps;
use crate::store::{AuthorityStore, Proposal, StoreError};
use crate::validator::Approval;

/// Why the authority switch did not happen (or may not have).
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The durable authority is no longer the one validated against: nothing was written (P6-A1).
    #[error("authority changed since validation: validated epoch {expected}, found {}", found.map_or_else(|| "no record".to_owned(), |e| format!("epoch {e}")))]
    Conflict {
        /// The epoch validated against.
        expected: Epoch,
        /// The epoch found.
        found: Option<Epoch>,
    },
    /// The durable record at the validated epoch differs from the validated authority view.
    #[error("the durable authority at epoch {epoch} is not the authority that was validated")]
    StaleAuthority {
        /// The epoch.
        epoch: Epoch,
    },
    /// The successor record breaks a record rule.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The store failed; whether the new record is durable is decided only by what is on disk.
    #[error("authority store failed during the commit: {0}")]
    Store(StoreError),
}

impl CommitError {
    /// Whether the authority changed since validation: a certain outcome, nothing was written
    /// by this attempt (P6-A1). Every other error leaves the outcome to recovery (P6-F2).
    pub fn is_conflict(&self) -> bool {
        matches!(self, CommitError::Conflict { .. } | CommitError::StaleAuthority { .. })
    }
}

impl From<StoreError> for CommitError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { expected: Some(expected), found } => {
                CommitError::Conflict { expected, found }
            }
            other => CommitError::Store(other),
        }
    }
}

/// A commit that did not complete. Its only use is [`recover`](Self::recover): the outcome is
/// whatever the durable record says, old or new, never a guess (§2, P6-F2).
#[derive(Debug, thiserror::Error)]
#[error("promotion of {} to epoch {} did not complete: {error}", approval.plan().primary, approval.plan().new_epoch)]
pub struct CommitFailure {
    error: CommitError,
    approval: Approval,
    _held: Claim,
}

/// What recovery after a failed commit found on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The new record is durable: the promotion took effect.
    Applied,
    /// The old authority stands: the promotion did not take effect.
    NotApplied,
}

impl CommitFailure {
    /// Why the commit did not complete.
    pub fn error(&self) -> &CommitError {
        &self.error
    }

    /// The approval that was being applied.
    pub fn approval(&self) -> &Approval {
        &self.approval
    }

    /// Reads the durable authority from `store` (a fresh handle after an I/O failure) and says
    /// whether this promotion took effect. Frees the promotion slot. A conflict is certain:
    /// this attempt wrote nothing, whatever record a rival made durable (P6-O2).
    pub fn recover<St: AuthorityStore + ?Sized>(
        self,
        store: &St,
    ) -> Result<(Recovered, Resolution), StoreError> {
        let recovered = recover(store)?;
        let plan = self.approval.plan();
        let applied = !self.error.is_conflict()
            && recovered.authority.as_ref().is_some_and(|r| {
                r.epoch() == plan.new_epoch && r.primary() == plan.primary && r.start() == plan.start
            });
        Ok((recovered, if applied { Resolution::Applied } else { Resolution::NotApplied }))
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
        return Err(CommitError::Conflict { expected: plan.basis_epoch, found });
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
    let summary = RequestSummary::of(approval.request(), plan.force_asserted);
    Ok(Proposal::new(Some(current.epoch()), current.succeeded_by(plan, summary)?))
}

impl<S: PromotionState> Promotion<S> {
    /// `AuthorityTransitioning → PromotionSucceeded`: writes the successor record (epoch + 1,
    /// history extended) with compare-and-swap on the validated epoch — the one atomic commit
    /// point (P6-A2). If the authority changed since validation nothing is written (P6-A1);
    /// on any failure the state is consumed and only recovery from disk remains (P6-F2).
    pub fn commit<St: AuthorityStore + ?Sized>(
        self,
        store: &mut St,
    ) -> Result<Promotion<PromotionSucceeded>, Box<CommitFailure>>
    where
        S: Transition<PromotionSucceeded, Source = (Claim, Box<Approval>)>,
    {
        let (claim, approval) = S::source(self, Unpack(()));
        match steps::commit(store, &claim, &approval) {
            Ok(record) => Ok(Promotion::assemble(claim, Box::new(Committed::new(*approval, record)))),
            Err(error) => Err(Box::new(CommitFailure { error, approval: *approval, _held: claim })),
        }
    }
}
