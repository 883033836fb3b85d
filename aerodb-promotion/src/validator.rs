//! The validator's answer (stage 6.3): [`assess`], the dry run, and the proof types only a
//! real attempt's validation mints: [`Approval`] and [`Denial`]. A pure, deterministic function
//! of (policy, request, inputs) (P6-D1).

use serde::{Deserialize, Serialize};

use crate::checks::{AuthorityPlan, CheckRecord, DenialReason, run_checks, screen};
use crate::inputs::ValidationInputs;
use crate::request::{PromotionPolicy, PromotionRequest, Rejection};

/// The validator's full answer: every check and the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[must_use]
pub struct Assessment {
    /// Every check, in run order.
    pub checks: Vec<CheckRecord>,
    /// Approve with a plan, or deny with the first failed check's reason.
    pub verdict: Verdict,
}

/// Approve, deny, or refuse before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
// One per assessment, never stored in bulk: boxing the plan would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Verdict {
    /// Refused before any check ran, exactly as the real attempt would refuse it; no checks.
    Reject(Rejection),
    /// Every check passed.
    Approve(AuthorityPlan),
    /// The first failed check's reason.
    Deny(DenialReason),
}

/// Proof that the validator approved this request on these inputs; minted only inside
/// [`Promotion::decide`](crate::Promotion::decide).
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub struct Approval {
    request: PromotionRequest,
    checks: Vec<CheckRecord>,
    plan: AuthorityPlan,
}

/// A validator denial: the request, every check, and the first failure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Denial {
    request: PromotionRequest,
    checks: Vec<CheckRecord>,
    reason: DenialReason,
}

impl Approval {
    /// The approved request.
    pub fn request(&self) -> &PromotionRequest {
        &self.request
    }
    /// Every check, all passed.
    pub fn checks(&self) -> &[CheckRecord] {
        &self.checks
    }
    /// The authority the commit will make durable.
    pub fn plan(&self) -> &AuthorityPlan {
        &self.plan
    }
}

impl Denial {
    /// The denied request.
    pub fn request(&self) -> &PromotionRequest {
        &self.request
    }
    /// Every check, in order.
    pub fn checks(&self) -> &[CheckRecord] {
        &self.checks
    }
    /// The first failed check's reason.
    pub fn reason(&self) -> DenialReason {
        self.reason
    }
}

/// The dry run: what a real attempt with `policy` would answer for `request` on `inputs`,
/// changing nothing. The same screening as the real attempt runs first, so a dry run never
/// approves what the attempt rejects; only "another attempt is in flight" is not known here.
///
/// The same inputs always give an equal [`Assessment`] (P6-D1).
pub fn assess(policy: PromotionPolicy, request: &PromotionRequest, inputs: &ValidationInputs) -> Assessment {
    match screen(policy, request, inputs) {
        Ok(()) => {
            let (checks, plan) = run_checks(request, inputs);
            Assessment { checks, verdict: plan.map_or_else(Verdict::Deny, Verdict::Approve) }
        }
        Err(rejection) => Assessment { checks: Vec::new(), verdict: Verdict::Reject(rejection) },
    }
}

/// Validates a screened `request` against `inputs`: an [`Approval`] only if every check passes.
pub(crate) fn validate(request: PromotionRequest, inputs: &ValidationInputs) -> Validated {
    match run_checks(&request, inputs) {
        (checks, Ok(plan)) => Validated::Approved(Approval { request, checks, plan }),
        (checks, Err(reason)) => Validated::Denied(Denial { request, checks, reason }),
    }
}

/// [`validate`]'s answer: the proof or the denial.
#[allow(clippy::large_enum_variant)] // one per attempt, moved once into its state
pub(crate) enum Validated {
    Approved(Approval),
    Denied(Denial),
}
