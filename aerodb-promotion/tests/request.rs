//! Requests and immediate rejections (stage 6.2), driven through the typestate API.

mod common;

use aerodb_promotion::*;
use common::*;

fn requested(slot: &PromotionSlot, candidate: &str) -> Promotion<PromotionRequested> {
    Promotion::new(slot).request(request(candidate))
}

fn rejection_of(result: Result<Promotion<PromotionValidating>, Box<Rejected>>) -> Rejection {
    match result {
        Ok(_) => panic!("expected an immediate rejection"),
        Err(rejected) => rejected.rejection,
    }
}

#[test]
fn a_disabled_policy_refuses_before_anything_else_and_keeps_nothing() {
    let slot = PromotionSlot::new();
    let mut inputs = approving_inputs();
    inputs.nodes.clear(); // would also be an unknown candidate: disabled is reported first
    let rejected =
        requested(&slot, "replica-1").begin_validation(PromotionPolicy::Disabled, &inputs).unwrap_err();
    assert_eq!(rejected.rejection, Rejection::Disabled);
    assert_eq!(rejected.steady.kind(), StateKind::Steady);
    assert!(!slot.is_busy());
    assert_eq!(
        rejected.to_string(),
        "promotion request for replica-1 rejected: promotion is disabled by policy"
    );
}

#[test]
fn an_unknown_candidate_is_rejected() {
    let slot = PromotionSlot::new();
    let result =
        requested(&slot, "replica-9").begin_validation(PromotionPolicy::Enabled, &approving_inputs());
    let rejection = rejection_of(result);
    let described = vec![id("primary-0"), id("replica-1"), id("replica-2")];
    assert_eq!(rejection, Rejection::UnknownCandidate { candidate: id("replica-9"), described });
    assert!(!slot.is_busy());
    // What screening compared is shown, in the explanation too (P6-O2).
    assert_eq!(
        rejection.compared(),
        "candidate replica-9; nodes described: [primary-0, replica-1, replica-2]; required among them"
    );
}

/// Inputs that describe no node at all refuse every candidate, and say so.
#[test]
fn inputs_without_nodes_reject_every_candidate_and_show_it() {
    let mut inputs = approving_inputs();
    inputs.nodes.clear();
    let request = PromotionRequest::builder("replica-1").build().unwrap();
    let dry = assess(PromotionPolicy::Enabled, &request, &inputs);
    let Verdict::Reject(rejection) = &dry.verdict else { panic!("{:?}", dry.verdict) };
    assert_eq!(rejection, &Rejection::UnknownCandidate { candidate: id("replica-1"), described: vec![] });
    let text = PromotionExplanation::of_assessment(&request, &dry).to_string();
    assert!(
        text.contains("screening compared: candidate replica-1; nodes described: []; required among them"),
        "{text}"
    );
}

#[test]
fn the_current_primary_is_rejected() {
    let slot = PromotionSlot::new();
    let result =
        requested(&slot, "primary-0").begin_validation(PromotionPolicy::Enabled, &approving_inputs());
    assert_eq!(
        rejection_of(result),
        Rejection::AlreadyPrimary { candidate: id("primary-0"), epoch: aerodb_core::Epoch::new(2) }
    );
}

#[test]
fn a_second_attempt_on_the_same_authority_is_rejected_until_the_first_returns_to_steady() {
    let slot = PromotionSlot::new();
    let inputs = approving_inputs();
    let first = requested(&slot, "replica-1").begin_validation(PromotionPolicy::Enabled, &inputs).unwrap();
    assert!(slot.is_busy());
    let second = requested(&slot, "replica-2").begin_validation(PromotionPolicy::Enabled, &inputs);
    assert_eq!(rejection_of(second), Rejection::AlreadyInProgress);

    let Decision::Approved(approved) = first.decide(&inputs) else { panic!("fixture approves") };
    let transitioning = approved.begin_transition();
    assert!(slot.is_busy(), "the slot is held through the switch");
    drop(transitioning); // abandoned: the claim is released with it
    assert!(!slot.is_busy());
    assert!(requested(&slot, "replica-1").begin_validation(PromotionPolicy::Enabled, &inputs).is_ok());
}

#[test]
fn separate_authorities_do_not_block_each_other() {
    let (a, b) = (PromotionSlot::new(), PromotionSlot::new());
    let inputs = approving_inputs();
    let _first = requested(&a, "replica-1").begin_validation(PromotionPolicy::Enabled, &inputs).unwrap();
    assert!(requested(&b, "replica-1").begin_validation(PromotionPolicy::Enabled, &inputs).is_ok());
}

#[test]
fn a_denial_returns_to_steady_with_every_check_and_frees_the_slot() {
    let slot = PromotionSlot::new();
    let inputs = approving_inputs();
    let validating =
        requested(&slot, "replica-2").begin_validation(PromotionPolicy::Enabled, &inputs).unwrap();
    assert_eq!(validating.pending_request().candidate(), id("replica-2"));
    let Decision::Denied(denied) = validating.decide(&inputs) else { panic!("replica-2 lags") };
    assert_eq!(denied.kind(), StateKind::PromotionDenied);
    let (steady, denial) = denied.conclude();
    assert_eq!(steady.kind(), StateKind::Steady);
    assert!(!slot.is_busy());
    assert_eq!(
        denial.reason(),
        DenialReason::CandidateBehind { candidate: pos(2, 120), acknowledged: pos(2, 150) }
    );
    assert_eq!(denial.checks().len(), 7);
}

#[test]
fn the_dry_run_matches_the_real_decision_and_changes_nothing() {
    let slot = PromotionSlot::new();
    let inputs = approving_inputs();
    for candidate in ["replica-1", "replica-2"] {
        let dry = assess(PromotionPolicy::Enabled, &request(candidate), &inputs);
        assert!(!slot.is_busy());
        let validating =
            requested(&slot, candidate).begin_validation(PromotionPolicy::Enabled, &inputs).unwrap();
        match validating.decide(&inputs) {
            Decision::Approved(approved) => {
                assert_eq!(dry.verdict, Verdict::Approve(approved.approval().plan().clone()));
                assert_eq!(dry.checks, approved.approval().checks());
                assert_eq!(approved.approval().request(), &request(candidate));
            }
            Decision::Denied(denied) => {
                assert_eq!(dry.verdict, Verdict::Deny(denied.denial().reason()));
                assert_eq!(dry.checks, denied.denial().checks());
            }
        }
    }
}
