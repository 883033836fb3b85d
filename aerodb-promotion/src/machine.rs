//! The transition methods of [`Promotion<S>`](crate::Promotion): each of the nine edges as a
//! method whose `where` clause names the edge, so only allowed transitions compile. What each
//! edge does is in `steps.rs`; here the attempt's parts move from state to state.

use crate::commit::CommitError;
use crate::inputs::ValidationInputs;
use crate::recovery::{Recovered, recover};
use crate::request::{PromotionPolicy, PromotionRequest, Rejection};
use crate::slot::{Claim, PromotionSlot};
use crate::states::{
    AuthorityTransitioning, Committed, Promotion, PromotionApproved, PromotionDenied, PromotionRequested,
    PromotionState, PromotionSucceeded, PromotionValidating, Steady, Transition, Unpack,
};
use crate::steps;
use crate::store::{AuthorityStore, StoreError};
use crate::validator::{Approval, Denial, Validated};

/// The validator's decision, as the next state.
#[must_use]
#[derive(Debug)]
pub enum Decision {
    /// Every check passed: `PromotionValidating → PromotionApproved`.
    Approved(Promotion<PromotionApproved>),
    /// A check failed: `PromotionValidating → PromotionDenied`.
    Denied(Promotion<PromotionDenied>),
}

/// A request refused at once (`PromotionRequested → Steady`); nothing was validated or kept.
#[derive(Debug, thiserror::Error)]
#[error("promotion request for {} rejected: {rejection}", request.candidate())]
pub struct Rejected {
    /// Back in `Steady`.
    pub steady: Promotion<Steady>,
    /// Why.
    pub rejection: Rejection,
    /// The refused request.
    pub request: PromotionRequest,
}

impl<S: PromotionState> Promotion<S> {
    /// `Steady → PromotionRequested`: accepts an explicit request. Nothing is checked yet.
    pub fn request(self, request: PromotionRequest) -> Promotion<PromotionRequested>
    where
        S: Transition<PromotionRequested, Source = (PromotionSlot, Box<()>)>,
    {
        let (slot, _) = S::source(self, Unpack(()));
        steps::request(&slot, &request);
        Promotion::assemble(slot, Box::new(request))
    }

    /// `PromotionRequested → PromotionValidating`, or `→ Steady` when the request is refused at
    /// once: promotion disabled (§7), another attempt holds this authority's slot, the candidate
    /// is not in `inputs`, or it is already the primary.
    pub fn begin_validation(
        self,
        policy: PromotionPolicy,
        inputs: &ValidationInputs,
    ) -> Result<Promotion<PromotionValidating>, Box<Rejected>>
    where
        S: Transition<PromotionValidating, Source = (PromotionSlot, Box<PromotionRequest>)>
            + Transition<Steady, Source = (PromotionSlot, Box<PromotionRequest>)>,
    {
        let (slot, request) = <S as Transition<PromotionValidating>>::source(self, Unpack(()));
        match steps::screen(&slot, policy, inputs, &request) {
            Ok(claim) => Ok(Promotion::assemble(claim, request)),
            Err(rejection) => {
                let steady = Promotion::assemble(slot, Box::new(()));
                Err(Box::new(Rejected { steady, rejection, request: *request }))
            }
        }
    }

    /// `PromotionValidating → PromotionApproved | PromotionDenied`: runs the validator on `inputs`.
    pub fn decide(self, inputs: &ValidationInputs) -> Decision
    where
        S: Transition<PromotionApproved, Source = (Claim, Box<PromotionRequest>)>
            + Transition<PromotionDenied, Source = (Claim, Box<PromotionRequest>)>,
    {
        let (claim, request) = <S as Transition<PromotionApproved>>::source(self, Unpack(()));
        match steps::decide(&claim, *request, inputs) {
            Validated::Approved(approval) => {
                Decision::Approved(Promotion::assemble(claim, Box::new(approval)))
            }
            Validated::Denied(denial) => Decision::Denied(Promotion::assemble(claim, Box::new(denial))),
        }
    }

    /// `PromotionApproved → AuthorityTransitioning`: the approval is about to be applied.
    pub fn begin_transition(self) -> Promotion<AuthorityTransitioning>
    where
        S: Transition<AuthorityTransitioning, Source = (Claim, Box<Approval>)>,
    {
        let (claim, approval) = S::source(self, Unpack(()));
        steps::begin_transition(&approval);
        Promotion::assemble(claim, approval)
    }

    /// `PromotionSucceeded → Steady`: the attempt is complete; hands back what was committed.
    pub fn complete(self) -> (Promotion<Steady>, Committed)
    where
        S: Transition<Steady, Source = (Claim, Box<Committed>)>,
    {
        let (claim, committed) = S::source(self, Unpack(()));
        steps::complete(&committed);
        (Promotion::assemble(claim.release(), Box::new(())), *committed)
    }

    /// `PromotionDenied → Steady`: hands back the denial; authority is unchanged.
    pub fn conclude(self) -> (Promotion<Steady>, Denial)
    where
        S: Transition<Steady, Source = (Claim, Box<Denial>)>,
    {
        let (claim, denial) = S::source(self, Unpack(()));
        steps::conclude(&denial);
        (Promotion::assemble(claim.release(), Box::new(())), *denial)
    }

    /// `AuthorityTransitioning → PromotionSucceeded`: writes the successor record (epoch + 1,
    /// history extended) with compare-and-swap on the whole validated record — the one atomic
    /// commit point (P6-A2). If the authority changed since validation nothing is written (P6-A1);
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
            Ok(record) => {
                let committed = Committed::new(*approval, record, claim.slot());
                Ok(Promotion::assemble(claim, Box::new(committed)))
            }
            Err(error) => Err(Box::new(CommitFailure { error, approval: *approval, _held: claim })),
        }
    }
}

impl Promotion<Steady> {
    /// An idle promotion for the authority guarded by `slot`.
    pub fn new(slot: &PromotionSlot) -> Self {
        Promotion::assemble(slot.clone(), Box::new(()))
    }
}

impl Promotion<PromotionRequested> {
    /// The request awaiting screening.
    pub fn pending_request(&self) -> &PromotionRequest {
        self.data()
    }
}

impl Promotion<PromotionValidating> {
    /// The request being validated.
    pub fn pending_request(&self) -> &PromotionRequest {
        self.data()
    }
}

impl Promotion<PromotionApproved> {
    /// The validator's approval.
    pub fn approval(&self) -> &Approval {
        self.data()
    }
}

impl Promotion<AuthorityTransitioning> {
    /// The approval being applied.
    pub fn approval(&self) -> &Approval {
        self.data()
    }
}

impl Promotion<PromotionSucceeded> {
    /// The approval and the record now durable.
    pub fn committed(&self) -> &Committed {
        self.data()
    }
}

impl Promotion<PromotionDenied> {
    /// The validator's denial.
    pub fn denial(&self) -> &Denial {
        self.data()
    }
}

/// A commit that did not complete. Its only use is [`recover`](Self::recover): the outcome is
/// whatever the durable record says, old or new, never a guess (§2, P6-F2).
#[derive(Debug, thiserror::Error)]
#[error("promotion of {} to epoch {} did not complete: {error}", approval.plan().primary, approval.plan().new_epoch)]
#[must_use]
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
