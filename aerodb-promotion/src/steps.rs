//! What each transition does — screening, validation, the commit, metrics and events — apart
//! from how the attempt's state is held. [`Promotion<S>`](crate::Promotion) runs these steps,
//! and so does the runtime-checked baseline in `testing`, so the two differ only in how the
//! state is represented and checked.

use crate::checks::{self, validated_invariants};
use crate::commit::{CommitError, successor};
use crate::inputs::ValidationInputs;
use crate::invariant::Invariant;
use crate::record::{AuthorityRecord, Force};
use crate::request::{PromotionPolicy, PromotionRequest, Rejection};
use crate::slot::{Claim, PromotionSlot};
use crate::states::{
    AuthorityTransitioning, Committed, Payload, PromotionApproved, PromotionDenied, PromotionRequested,
    PromotionState, PromotionSucceeded, PromotionValidating, StateKind, Steady, Transition,
};
use crate::store::AuthorityStore;
use crate::telemetry::{self, PromotionMetrics};
use crate::validator::{self, Approval, Denial, Validated};

/// The event fields of edge `F → T`, concerning `invariants`.
fn edge<F: Transition<T>, T: PromotionState>(invariants: &[Invariant]) -> telemetry::TransitionEvent<'_> {
    telemetry::TransitionEvent { from: F::KIND.name(), to: T::KIND.name(), reason: F::REASON, invariants }
}

/// `Steady → PromotionRequested`: counts and reports the request; nothing is checked yet.
pub(crate) fn request(slot: &PromotionSlot, request: &PromotionRequest) {
    let metrics = slot.metrics();
    metrics.request();
    let t = edge::<Steady, PromotionRequested>(&[Invariant::P6A3, Invariant::P6F3]);
    telemetry::requested(t, request, metrics);
}

/// `PromotionRequested → PromotionValidating`, claiming the authority's slot (P6-A1), or
/// `→ Steady` when the request is refused at once: the dry run's screening (disabled, unknown
/// candidate, already primary), then the slot is held by another attempt.
pub(crate) fn screen(
    slot: &PromotionSlot,
    policy: PromotionPolicy,
    inputs: &ValidationInputs,
    request: &PromotionRequest,
) -> Result<Claim, Rejection> {
    let screened = checks::screen(policy, request, inputs)
        .and_then(|()| slot.try_claim().ok_or(Rejection::AlreadyInProgress));
    match &screened {
        Ok(_) => {
            telemetry::validation_started(
                edge::<PromotionRequested, PromotionValidating>(validated_invariants()),
                request,
            );
        }
        Err(rejection) => {
            slot.metrics().denied();
            let violated = [rejection.invariant()];
            let t = edge::<PromotionRequested, Steady>(&violated);
            telemetry::validation_failed(t, request, violated[0], rejection);
            telemetry::completed(t, request, "rejected");
        }
    }
    screened
}

/// `PromotionValidating → PromotionApproved | PromotionDenied`: runs the validator.
pub(crate) fn decide(claim: &Claim, request: PromotionRequest, inputs: &ValidationInputs) -> Validated {
    let validated = validator::validate(request, inputs);
    match &validated {
        Validated::Approved(approval) => {
            let t = edge::<PromotionValidating, PromotionApproved>(validated_invariants());
            telemetry::validation_succeeded(t, approval.request(), approval.plan().force_asserted());
        }
        Validated::Denied(denial) => {
            claim.slot().metrics().denied();
            let violated = [denial.reason().invariant()];
            let t = edge::<PromotionValidating, PromotionDenied>(&violated);
            telemetry::validation_failed(t, denial.request(), violated[0], &denial.reason());
        }
    }
    validated
}

/// `PromotionApproved → AuthorityTransitioning`: the approval is about to be applied.
pub(crate) fn begin_transition(approval: &Approval) {
    let t = edge::<PromotionApproved, AuthorityTransitioning>(&[Invariant::P6A2]);
    telemetry::transition_started(t, approval.request(), approval.plan().new_epoch.get());
}

/// Where a conflicted commit goes: no state; the attempt ends with nothing written.
const NOTHING_WRITTEN: &str = "none (nothing written)";
/// Why a conflicted commit ends the attempt.
const CONFLICT: &str = "the durable authority changed since validation; the compare-and-swap wrote nothing";

/// `AuthorityTransitioning → PromotionSucceeded`: the one atomic commit point (P6-A2). Writes
/// the successor record with compare-and-swap on the whole validated record; if the authority
/// changed since validation nothing is written and the attempt counts as denied (P6-A1).
pub(crate) fn commit<St: AuthorityStore + ?Sized>(
    store: &mut St,
    claim: &Claim,
    approval: &Approval,
) -> Result<AuthorityRecord, CommitError> {
    let committed = successor(store, approval).and_then(|proposal| {
        store.commit(&proposal)?;
        Ok(proposal.into_record())
    });
    let metrics: &PromotionMetrics = claim.slot().metrics();
    let t = edge::<AuthorityTransitioning, PromotionSucceeded>(&[Invariant::P6A2, Invariant::P6F2]);
    match &committed {
        Ok(record) => {
            metrics.success();
            metrics.set_primary(record.primary());
            let force = record.request().map_or(Force::NotRequested, |r| r.force);
            telemetry::transition_completed(
                t,
                approval.request(),
                record.primary(),
                record.epoch().get(),
                force,
            );
        }
        Err(error) if error.is_conflict() => {
            // Fail closed: the validated authority is gone, nothing was written, and no edge was
            // taken; the attempt ends here as a denial (P6-A1), and the event says so.
            metrics.denied();
            let t = telemetry::TransitionEvent { to: NOTHING_WRITTEN, reason: CONFLICT, ..t };
            telemetry::validation_failed(t, approval.request(), Invariant::P6A1, error);
            telemetry::completed(t, approval.request(), "conflict");
        }
        Err(error) => {
            metrics.crash_abort();
            telemetry::aborted_on_crash(AuthorityTransitioning::KIND.name(), Some(approval.request()), error);
        }
    }
    committed
}

/// `PromotionSucceeded → Steady`: the attempt is complete.
pub(crate) fn complete(committed: &Committed) {
    let t = edge::<PromotionSucceeded, Steady>(&[Invariant::P6A1, Invariant::P6A2]);
    telemetry::completed(t, committed.approval().request(), "succeeded");
}

/// An attempt dropped in `kind`, before any outcome was counted: it ends as a crash there would
/// end it, forgotten with nothing durable changed, counted as aborted (P6-O1, §2).
pub(crate) fn abandon(kind: StateKind, slot: &PromotionSlot, request: &PromotionRequest) {
    slot.metrics().crash_abort();
    telemetry::aborted_on_crash(kind.name(), Some(request), &"the attempt was dropped before it ended");
}

/// `PromotionDenied → Steady`: the denial was reported; authority is unchanged.
pub(crate) fn conclude(denial: &Denial) {
    let violated = [denial.reason().invariant()];
    telemetry::completed(edge::<PromotionDenied, Steady>(&violated), denial.request(), "denied");
}

impl Payload for PromotionRequest {
    fn abandoned(&self, kind: StateKind, slot: &PromotionSlot) {
        abandon(kind, slot, self);
    }
}

impl Payload for Approval {
    fn abandoned(&self, kind: StateKind, slot: &PromotionSlot) {
        abandon(kind, slot, self.request());
    }
}

impl Payload for Committed {
    fn abandoned(&self, _: StateKind, _: &PromotionSlot) {
        complete(self);
    }
}

impl Payload for Denial {
    fn abandoned(&self, _: StateKind, _: &PromotionSlot) {
        conclude(self);
    }
}
