//! Explanation artifacts (§6, P6-O2): for every attempt, what was asked, every check in order,
//! the invariants satisfied or the one violated, a deterministic reason, and what became of
//! the authority. No clock, no map order: identical inputs give identical text and JSON (P6-D1).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::checks::{CheckId, CheckRecord, DenialReason};
use crate::display::Ids;
use crate::invariant::Invariant;
use crate::machine::CommitFailure;
use crate::machine::Rejected;
use crate::record::{AuthorityRecord, Force, RequestSummary};
use crate::request::{PromotionRequest, Rejection};
use crate::states::Committed;
use crate::validator::{Assessment, Denial, Verdict};

/// Why a promotion was allowed or refused, and what it did to the authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionExplanation {
    /// The request, and what force did for it (P6-A1a).
    pub request: RequestSummary,
    /// How the attempt ended.
    pub outcome: Outcome,
    /// Every check performed, in run order (empty when refused before validation).
    pub checks: Vec<CheckLine>,
    /// What screening compared, when the request was refused before validation.
    pub screening: Option<String>,
    /// Invariants every check upheld (spec order), when nothing was violated.
    pub invariants_satisfied: Vec<Invariant>,
    /// The invariant that blocked the promotion, if one did.
    pub invariant_violated: Option<Invariant>,
    /// One deterministic sentence.
    pub reason: String,
    /// The authority afterwards.
    pub authority: AuthorityAfter,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// Durably promoted.
    Promoted,
    /// A dry run that would approve; nothing was changed.
    WouldApprove,
    /// Denied by the validator.
    Denied,
    /// Refused before validation.
    Rejected,
    /// The authority changed after validation; nothing was written.
    Conflict,
    /// The commit failed; recovery from disk decides.
    CommitFault,
}

/// One check as explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckLine {
    /// 1-based position in the run order.
    pub order: usize,
    /// Which check.
    pub check: CheckId,
    /// The invariants it enforces.
    pub invariants: Vec<Invariant>,
    /// Whether it passed.
    pub passed: bool,
    /// The values it compared.
    pub compared: String,
    /// Why it failed.
    pub failure: Option<String>,
}

/// The authority after the attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthorityAfter {
    /// A new record is durable.
    Changed {
        /// New epoch.
        epoch: u64,
        /// New primary.
        primary: String,
        /// The primary replaced.
        previous_primary: Option<String>,
        /// Whether force was requested and whether it carried the decision (recorded durably, P6-A1a).
        force: Force,
    },
    /// Nothing was written.
    Unchanged,
    /// The commit's fate is whatever recovery reads from disk: old or new, never mixed.
    DecidedByRecovery,
}

fn lines(checks: &[CheckRecord]) -> Vec<CheckLine> {
    checks
        .iter()
        .enumerate()
        .map(|(i, c)| CheckLine {
            order: i + 1,
            check: c.check,
            invariants: line_invariants(c),
            passed: c.passed(),
            compared: c.compared.to_string(),
            failure: c.failure.map(|f| f.to_string()),
        })
        .collect()
}

/// A check's invariants, and on a failed line also the one its failure names, so the failing
/// line always names the invariant the verdict names (P6-O2).
fn line_invariants(check: &CheckRecord) -> Vec<Invariant> {
    let mut all = check.check.invariants().to_vec();
    all.extend(check.failure.map(|f| f.invariant()));
    all.sort_unstable();
    all.dedup();
    all
}

fn upheld(checks: &[CheckRecord]) -> Vec<Invariant> {
    let mut all: Vec<Invariant> = checks.iter().flat_map(|c| c.check.invariants().iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    all
}

impl PromotionExplanation {
    /// A dry run or validator verdict for `request`.
    pub fn of_assessment(request: &PromotionRequest, assessment: &Assessment) -> Self {
        match &assessment.verdict {
            Verdict::Approve(plan) => PromotionExplanation {
                request: RequestSummary::of(request, plan),
                outcome: Outcome::WouldApprove,
                checks: lines(&assessment.checks),
                screening: None,
                invariants_satisfied: upheld(&assessment.checks),
                invariant_violated: None,
                reason: if plan.force_asserted() {
                    format!(
                        "every check passed; would raise epoch {} to {} with {} as primary, on the operator's assertion that {} is down",
                        plan.basis_epoch, plan.new_epoch, plan.primary, plan.previous_primary
                    )
                } else {
                    format!(
                        "every check passed; would raise epoch {} to {} with {} as primary",
                        plan.basis_epoch, plan.new_epoch, plan.primary
                    )
                },
                authority: AuthorityAfter::Unchanged,
            },
            Verdict::Deny(reason) => PromotionExplanation::denied(request, &assessment.checks, *reason),
            Verdict::Reject(rejection) => PromotionExplanation::rejected(request, rejection),
        }
    }

    fn rejected(request: &PromotionRequest, rejection: &Rejection) -> Self {
        PromotionExplanation {
            request: RequestSummary::asked(request),
            outcome: Outcome::Rejected,
            checks: Vec::new(),
            screening: Some(rejection.compared()),
            invariants_satisfied: Vec::new(),
            invariant_violated: Some(rejection.invariant()),
            reason: format!("rejected before validation: {rejection}"),
            authority: AuthorityAfter::Unchanged,
        }
    }

    fn denied(request: &PromotionRequest, checks: &[CheckRecord], reason: DenialReason) -> Self {
        PromotionExplanation {
            request: RequestSummary::asked(request),
            outcome: Outcome::Denied,
            checks: lines(checks),
            screening: None,
            invariants_satisfied: Vec::new(),
            invariant_violated: Some(reason.invariant()),
            reason: format!("denied: {reason}"),
            authority: AuthorityAfter::Unchanged,
        }
    }
}

impl Denial {
    /// Why the validator denied the request.
    pub fn explain(&self) -> PromotionExplanation {
        PromotionExplanation::denied(self.request(), self.checks(), self.reason())
    }
}

impl Rejected {
    /// Why the request was refused before validation.
    pub fn explain(&self) -> PromotionExplanation {
        PromotionExplanation::rejected(&self.request, &self.rejection)
    }
}

fn changed(record: &AuthorityRecord) -> AuthorityAfter {
    AuthorityAfter::Changed {
        epoch: record.epoch().get(),
        primary: record.primary().to_string(),
        previous_primary: record.previous_primary().map(|p| p.to_string()),
        force: record.request().map_or(Force::NotRequested, |r| r.force),
    }
}

impl Committed {
    /// Why the promotion was allowed, and the authority it made durable.
    pub fn explain(&self) -> PromotionExplanation {
        let approval = self.approval();
        let plan = approval.plan();
        let record = self.record();
        let force = if plan.force_asserted() {
            format!(", on the operator's assertion that {} is down (P6-A1a)", plan.previous_primary)
        } else {
            String::new()
        };
        PromotionExplanation {
            request: RequestSummary::of(approval.request(), approval.plan()),
            outcome: Outcome::Promoted,
            checks: lines(approval.checks()),
            screening: None,
            invariants_satisfied: upheld(approval.checks()),
            invariant_violated: None,
            reason: format!(
                "every check passed; epoch {} is durable with {} as primary from WAL position {}{force}",
                record.epoch(),
                record.primary(),
                record.start()
            ),
            authority: changed(record),
        }
    }
}

impl CommitFailure {
    /// Why the durable switch did not complete.
    pub fn explain(&self) -> PromotionExplanation {
        let approval = self.approval();
        let (outcome, violated, authority) = if self.error().is_conflict() {
            (Outcome::Conflict, Some(Invariant::P6A1), AuthorityAfter::Unchanged)
        } else {
            (Outcome::CommitFault, Some(Invariant::P6F2), AuthorityAfter::DecidedByRecovery)
        };
        PromotionExplanation {
            request: RequestSummary::of(approval.request(), approval.plan()),
            outcome,
            checks: lines(approval.checks()),
            screening: None,
            invariants_satisfied: Vec::new(),
            invariant_violated: violated,
            reason: format!("approved but not applied: {}", self.error()),
            authority,
        }
    }
}

impl PromotionExplanation {
    /// Pretty JSON: fields in declaration order, so identical explanations give identical bytes.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}

impl fmt::Display for PromotionExplanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.request;
        let outcome = match self.outcome {
            Outcome::Promoted => "PROMOTED",
            Outcome::WouldApprove => "WOULD APPROVE (dry run)",
            Outcome::Denied => "DENIED",
            Outcome::Rejected => "REJECTED",
            Outcome::Conflict => "NOT APPLIED (authority changed)",
            Outcome::CommitFault => "NOT COMPLETED (commit failed)",
        };
        writeln!(f, "promotion of {}: {outcome}", r.candidate)?;
        writeln!(
            f,
            "  request: force={} reason={} request_id={}",
            r.force,
            r.reason.as_deref().map_or_else(|| "none".to_owned(), |s| format!("{s:?}")),
            r.request_id.as_deref().unwrap_or("none")
        )?;
        if self.checks.is_empty() {
            writeln!(f, "  checks: none run")?;
            if let Some(screening) = &self.screening {
                writeln!(f, "  screening compared: {screening}")?;
            }
        } else {
            writeln!(f, "  checks:")?;
        }
        for c in &self.checks {
            let verdict = if c.passed { "pass" } else { "FAIL" };
            writeln!(
                f,
                "    {}. {} [{}] {verdict}: {}",
                c.order,
                c.check,
                Ids(&c.invariants, ", "),
                c.compared
            )?;
            if let Some(failure) = &c.failure {
                writeln!(f, "       -> {failure}")?;
            }
        }
        writeln!(f, "  invariants satisfied: {}", Ids(&self.invariants_satisfied, ", "))?;
        writeln!(f, "  invariant violated: {}", self.invariant_violated.map_or("none", |i| i.id()))?;
        writeln!(f, "  reason: {}", self.reason)?;
        match &self.authority {
            AuthorityAfter::Changed { epoch, primary, previous_primary, force } => writeln!(
                f,
                "  authority: epoch {epoch}, primary {primary} (was {}), force {force}",
                previous_primary.as_deref().unwrap_or("none"),
            ),
            AuthorityAfter::Unchanged => writeln!(f, "  authority: unchanged"),
            AuthorityAfter::DecidedByRecovery => {
                writeln!(
                    f,
                    "  authority: decided by recovery from the durable record (old or new, never mixed)"
                )
            }
        }
    }
}
