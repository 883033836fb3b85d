//! The promotion lifecycle as a runtime-checked enum: one `match` per transition, an error on
//! misuse. It runs exactly the steps [`Promotion<S>`](crate::Promotion) runs, so comparing the
//! two measures only what the typestate representation costs — the baseline of the lifecycle
//! benchmark (BENCHMARKS.md). Use `Promotion<S>`: here a forbidden transition is found at run time.

use crate::commit::CommitError;
use crate::inputs::ValidationInputs;
use crate::request::{PromotionPolicy, PromotionRequest, Rejection};
use crate::slot::{Claim, PromotionSlot};
use crate::states::{Committed, StateKind};
use crate::steps;
use crate::store::AuthorityStore;
use crate::validator::{Approval, Denial, Validated};

/// An attempt whose state is checked at run time.
#[derive(Debug)]
pub struct RuntimeMachine(State);

#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "an enum machine holds payloads inline: the design being compared"
)]
enum State {
    Steady(PromotionSlot),
    Requested(PromotionSlot, PromotionRequest),
    Validating(Claim, PromotionRequest),
    Approved(Claim, Approval),
    Transitioning(Claim, Approval),
    Succeeded(Claim, Committed),
    Denied(Claim, Denial),
}

/// Why a [`RuntimeMachine`] step did not move on.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The step is not allowed from this state: what `Promotion<S>` refuses at compile time.
    #[error("`{step}` is not allowed in state `{state}`")]
    Misuse {
        /// The state the machine was in.
        state: StateKind,
        /// The step attempted.
        step: &'static str,
    },
    /// Screening refused the request (`PromotionRequested → Steady`).
    #[error(transparent)]
    Rejected(Rejection),
    /// The commit did not complete; only recovery from disk remains.
    #[error(transparent)]
    Commit(CommitError),
}

impl RuntimeMachine {
    /// An idle machine for the authority guarded by `slot`.
    pub fn new(slot: &PromotionSlot) -> Self {
        RuntimeMachine(State::Steady(slot.clone()))
    }

    /// The state the machine is in.
    pub fn kind(&self) -> StateKind {
        match &self.0 {
            State::Steady(..) => StateKind::Steady,
            State::Requested(..) => StateKind::PromotionRequested,
            State::Validating(..) => StateKind::PromotionValidating,
            State::Approved(..) => StateKind::PromotionApproved,
            State::Transitioning(..) => StateKind::AuthorityTransitioning,
            State::Succeeded(..) => StateKind::PromotionSucceeded,
            State::Denied(..) => StateKind::PromotionDenied,
        }
    }

    fn misuse(&self, step: &'static str) -> RuntimeError {
        RuntimeError::Misuse { state: self.kind(), step }
    }

    /// `Steady → PromotionRequested`.
    pub fn request(self, request: PromotionRequest) -> Result<Self, RuntimeError> {
        match self.0 {
            State::Steady(slot) => {
                steps::request(&slot, &request);
                Ok(RuntimeMachine(State::Requested(slot, request)))
            }
            _ => Err(self.misuse("request")),
        }
    }

    /// `PromotionRequested → PromotionValidating`, or a rejection (`→ Steady`).
    pub fn begin_validation(
        self,
        policy: PromotionPolicy,
        inputs: &ValidationInputs,
    ) -> Result<Self, RuntimeError> {
        match self.0 {
            State::Requested(slot, request) => match steps::screen(&slot, policy, inputs, &request) {
                Ok(claim) => Ok(RuntimeMachine(State::Validating(claim, request))),
                Err(rejection) => Err(RuntimeError::Rejected(rejection)),
            },
            _ => Err(self.misuse("begin_validation")),
        }
    }

    /// `PromotionValidating → PromotionApproved | PromotionDenied`.
    pub fn decide(self, inputs: &ValidationInputs) -> Result<Self, RuntimeError> {
        match self.0 {
            State::Validating(claim, request) => {
                Ok(RuntimeMachine(match steps::decide(&claim, request, inputs) {
                    Validated::Approved(approval) => State::Approved(claim, approval),
                    Validated::Denied(denial) => State::Denied(claim, denial),
                }))
            }
            _ => Err(self.misuse("decide")),
        }
    }

    /// `PromotionApproved → AuthorityTransitioning`.
    pub fn begin_transition(self) -> Result<Self, RuntimeError> {
        match self.0 {
            State::Approved(claim, approval) => {
                steps::begin_transition(&approval);
                Ok(RuntimeMachine(State::Transitioning(claim, approval)))
            }
            _ => Err(self.misuse("begin_transition")),
        }
    }

    /// `AuthorityTransitioning → PromotionSucceeded`: the durable commit.
    pub fn commit<St: AuthorityStore + ?Sized>(self, store: &mut St) -> Result<Self, RuntimeError> {
        match self.0 {
            State::Transitioning(claim, approval) => match steps::commit(store, &claim, &approval) {
                Ok(record) => {
                    let committed = Committed::new(approval, record, claim.slot());
                    Ok(RuntimeMachine(State::Succeeded(claim, committed)))
                }
                Err(error) => Err(RuntimeError::Commit(error)),
            },
            _ => Err(self.misuse("commit")),
        }
    }

    /// `PromotionSucceeded → Steady`, handing back what was committed.
    pub fn complete(self) -> Result<(Self, Committed), RuntimeError> {
        match self.0 {
            State::Succeeded(claim, committed) => {
                steps::complete(&committed);
                Ok((RuntimeMachine(State::Steady(claim.release())), committed))
            }
            _ => Err(self.misuse("complete")),
        }
    }

    /// `PromotionDenied → Steady`, handing back the denial.
    pub fn conclude(self) -> Result<(Self, Denial), RuntimeError> {
        match self.0 {
            State::Denied(claim, denial) => {
                steps::conclude(&denial);
                Ok((RuntimeMachine(State::Steady(claim.release())), denial))
            }
            _ => Err(self.misuse("conclude")),
        }
    }
}
