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
