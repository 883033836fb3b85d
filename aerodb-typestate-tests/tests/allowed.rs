//! The nine allowed edges compile, both as trait bounds and as the methods that take them.

use aerodb_promotion::*;

fn require<From: Transition<To>, To: PromotionState>() -> (StateKind, StateKind) {
    (From::KIND, To::KIND)
}

#[test]
fn the_nine_allowed_edges_compile() {
    let edges = [
        require::<Steady, PromotionRequested>(),
        require::<PromotionRequested, PromotionValidating>(),
        require::<PromotionRequested, Steady>(),
        require::<PromotionValidating, PromotionApproved>(),
        require::<PromotionValidating, PromotionDenied>(),
        require::<PromotionApproved, AuthorityTransitioning>(),
        require::<AuthorityTransitioning, PromotionSucceeded>(),
        require::<PromotionSucceeded, Steady>(),
        require::<PromotionDenied, Steady>(),
    ];
    assert_eq!(edges, ALLOWED_TRANSITIONS);
}

/// Every allowed edge, taken through its method on real inputs.
#[test]
fn the_nine_edges_as_methods() {
    use aerodb_core::NodeId;
    use aerodb_promotion::testing::{MemoryStore, caught_up_inputs};

    let mut store = MemoryStore::default();
    let record = store.bootstrap(NodeId::new("primary-0").unwrap()).unwrap();
    let inputs = caught_up_inputs(&record, NodeId::new("replica-1").unwrap(), 10);
    let request = || PromotionRequest::builder("replica-1").build().unwrap();
    let steady = recover(&store).unwrap().steady;

    // Steady → PromotionRequested → Steady (rejected at once).
    let rejected =
        steady.request(request()).begin_validation(PromotionPolicy::Disabled, &inputs).unwrap_err();
    // Steady → PromotionRequested → PromotionValidating → PromotionDenied → Steady.
    let mut lagging = inputs.clone();
    lagging.acknowledged =
        Some(aerodb_core::WalPosition::new(aerodb_core::Epoch::new(1), aerodb_core::Lsn::new(11)));
    let validating =
        rejected.steady.request(request()).begin_validation(PromotionPolicy::Enabled, &lagging).unwrap();
    let Decision::Denied(denied) = validating.decide(&lagging) else { panic!("lagging must deny") };
    let (steady, _denial) = denied.conclude();
    // … → PromotionApproved → AuthorityTransitioning → PromotionSucceeded → Steady.
    let validating = steady.request(request()).begin_validation(PromotionPolicy::Enabled, &inputs).unwrap();
    let Decision::Approved(approved) = validating.decide(&inputs) else { panic!("caught up must approve") };
    let transitioning: Promotion<AuthorityTransitioning> = approved.begin_transition();
    let succeeded: Promotion<PromotionSucceeded> = transitioning.commit(&mut store).unwrap();
    let (steady, committed) = succeeded.complete();
    assert_eq!(steady.kind(), StateKind::Steady);
    assert_eq!(committed.record().epoch(), aerodb_core::Epoch::new(2));
}
