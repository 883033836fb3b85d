//! Seeded validator properties. Replay a failure with `AERODB_QC_SEED=<seed>`.

mod common;

use aerodb_core::testing::check;
use aerodb_core::*;
use aerodb_promotion::*;
use common::*;
use quickcheck::{Arbitrary, Gen};

/// A random variation of the approving fixture.
#[derive(Debug, Clone)]
struct Scenario {
    candidate_lsn: u64,
    /// The acknowledged position as (epoch, LSN): in the candidate's epoch 2 or in epoch 1.
    acknowledged: Option<(u64, u64)>,
    old_primary: OldPrimary,
    force: bool,
    diverged_at: Option<u64>,
    partial: bool,
    halted: Option<HaltReason>,
}

impl Arbitrary for Scenario {
    fn arbitrary(g: &mut Gen) -> Self {
        let statuses =
            [OldPrimary::ConfirmedStopped, OldPrimary::Fenced, OldPrimary::KnownActive, OldPrimary::Unknown];
        Scenario {
            candidate_lsn: 100 + u64::arbitrary(g) % 100,
            acknowledged: Option::<u64>::arbitrary(g)
                .map(|a| if a % 3 == 0 { (1, a / 3 % 200) } else { (2, 100 + a % 100) }),
            old_primary: *g.choose(&statuses).unwrap(),
            force: bool::arbitrary(g),
            diverged_at: if u8::arbitrary(g) % 4 == 0 { Some(1 + u64::arbitrary(g) % 99) } else { None },
            partial: u8::arbitrary(g) % 8 == 0,
            halted: if u8::arbitrary(g) % 8 == 0 { g.choose(&HaltReason::ALL).copied() } else { None },
        }
    }
}

impl Scenario {
    fn build(&self) -> (PromotionRequest, ValidationInputs) {
        let mut inputs = approving_inputs();
        inputs.old_primary = self.old_primary;
        inputs.acknowledged = self.acknowledged.map(|(e, l)| pos(e, l));
        let candidate = node_mut(&mut inputs, "replica-1");
        candidate.position = pos(2, self.candidate_lsn);
        candidate.mvcc = Some(MvccBoundary::at_rest(Lsn::new(self.candidate_lsn)));
        if let Some(at) = self.diverged_at {
            candidate.history = Some(history(&[(1, 0), (2, at)]));
        }
        if self.partial {
            let commit = PartialCommit { commit_lsn: Lsn::new(self.candidate_lsn), applied: 0, total: 2 };
            candidate.mvcc = Some(MvccBoundary {
                visible_commit: Lsn::new(self.candidate_lsn - 1),
                applying: Some(commit),
            });
        }
        if let Some(reason) = self.halted {
            candidate.replication = ReplicationState::ReplicationHalted { reason };
        }
        let request = PromotionRequest::builder("replica-1").force(self.force).build().unwrap();
        (request, inputs)
    }

    /// Whether the candidate's WAL holds the acknowledged position, worked out from the
    /// scenario alone: epoch 1 ends at the candidate's switch point, epoch 2 at its position.
    fn holds_acknowledged(&self) -> bool {
        let switch = self.diverged_at.unwrap_or(100);
        match self.acknowledged {
            Some((1, lsn)) => lsn <= switch,
            Some((_, lsn)) => lsn <= self.candidate_lsn,
            None => false,
        }
    }

    fn approved(&self) -> bool {
        let (request, inputs) = self.build();
        matches!(assess(PromotionPolicy::Enabled, &request, &inputs).verdict, Verdict::Approve(_))
    }
}

/// P6-S1, with acknowledged positions in the candidate's epoch and in the epoch before it.
#[test]
fn never_approved_when_the_candidate_lacks_the_acknowledged_position() {
    fn prop(s: Scenario) -> bool {
        !(s.acknowledged.is_some() && !s.holds_acknowledged() && s.approved())
    }
    check("never_approved_when_behind", 2000, prop as fn(Scenario) -> bool);
}

#[test]
fn never_approved_with_an_unknown_acknowledged_position() {
    fn prop(s: Scenario) -> bool {
        !(s.acknowledged.is_none() && s.approved())
    }
    check("never_approved_unknown_acknowledged", 2000, prop as fn(Scenario) -> bool);
}

#[test]
fn never_approved_with_a_diverged_history() {
    fn prop(s: Scenario) -> bool {
        !(s.diverged_at.is_some() && s.approved())
    }
    check("never_approved_diverged", 2000, prop as fn(Scenario) -> bool);
}

/// Moving the candidate further behind, or making it diverge, never turns a denial into an approval.
#[test]
fn worse_candidates_never_turn_a_denial_into_an_approval() {
    fn prop(s: Scenario, back: u8, diverge: bool) -> bool {
        let mut worse = s.clone();
        worse.candidate_lsn = s.candidate_lsn.saturating_sub(u64::from(back)).max(100);
        if diverge {
            worse.diverged_at = Some(worse.diverged_at.unwrap_or(50).min(99));
        }
        s.approved() || !worse.approved()
    }
    check("worse_candidates_never_approve", 2000, prop as fn(Scenario, u8, bool) -> bool);
}

#[test]
fn force_never_overrides_a_known_active_primary() {
    fn prop(s: Scenario) -> bool {
        let s = Scenario { old_primary: OldPrimary::KnownActive, force: true, ..s };
        !s.approved()
    }
    check("force_never_overrides_known_active", 1000, prop as fn(Scenario) -> bool);
}

#[test]
fn an_approval_always_passed_every_check_and_raises_the_epoch_by_one() {
    fn prop(s: Scenario) -> bool {
        let (request, inputs) = s.build();
        let assessment = assess(PromotionPolicy::Enabled, &request, &inputs);
        match assessment.verdict {
            Verdict::Approve(plan) => {
                assessment.checks.iter().all(CheckRecord::passed)
                    && plan.new_epoch == Epoch::new(plan.basis_epoch.get() + 1)
                    && plan.force_asserted() == (s.old_primary == OldPrimary::Unknown)
            }
            Verdict::Deny(reason) => {
                assessment.checks.iter().find(|c| !c.passed()).and_then(|c| c.failure) == Some(reason)
            }
            Verdict::Reject(_) => false,
        }
    }
    check("approval_passed_every_check", 2000, prop as fn(Scenario) -> bool);
}

#[test]
fn a_disabled_policy_never_reaches_validation() {
    fn prop(s: Scenario) -> bool {
        let (request, inputs) = s.build();
        let slot = PromotionSlot::new();
        let result =
            Promotion::new(&slot).request(request).begin_validation(PromotionPolicy::Disabled, &inputs);
        matches!(result, Err(rejected) if rejected.rejection == Rejection::Disabled) && !slot.is_busy()
    }
    check("disabled_never_validates", 500, prop as fn(Scenario) -> bool);
}

#[test]
fn assessments_are_deterministic() {
    fn prop(s: Scenario) -> bool {
        let (request, inputs) = s.build();
        assess(PromotionPolicy::Enabled, &request, &inputs)
            == assess(PromotionPolicy::Enabled, &request.clone(), &inputs.clone())
    }
    check("assessments_are_deterministic", 500, prop as fn(Scenario) -> bool);
}

/// P6-O2: for the same policy, request and inputs, the dry run's verdict and explanation are
/// the real attempt's (disabled policy and the current primary included).
#[test]
fn a_dry_run_agrees_with_the_real_attempt() {
    fn prop(s: Scenario, disabled: bool, primary: bool) -> bool {
        let (_, inputs) = s.build();
        let policy = if disabled { PromotionPolicy::Disabled } else { PromotionPolicy::Enabled };
        let candidate = if primary { "primary-0" } else { "replica-1" };
        let request = PromotionRequest::builder(candidate).force(s.force).build().unwrap();
        let dry = PromotionExplanation::of_assessment(&request, &assess(policy, &request, &inputs));
        let slot = PromotionSlot::new();
        let real = match Promotion::new(&slot).request(request).begin_validation(policy, &inputs) {
            Err(rejected) => rejected.explain(),
            Ok(validating) => match validating.decide(&inputs) {
                Decision::Denied(denied) => denied.conclude().1.explain(),
                Decision::Approved(approved) => {
                    let approval = approved.approval();
                    PromotionExplanation::of_assessment(
                        approval.request(),
                        &Assessment {
                            checks: approval.checks().to_vec(),
                            verdict: Verdict::Approve(approval.plan().clone()),
                        },
                    )
                }
            },
        };
        dry == real
    }
    check("a_dry_run_agrees_with_the_real_attempt", 1000, prop as fn(Scenario, bool, bool) -> bool);
}
