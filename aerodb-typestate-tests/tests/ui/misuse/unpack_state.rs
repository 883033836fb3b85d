//! A state cannot be taken apart from outside: `Transition::source` needs a token that only
//! the crate can make, so an approval cannot be pulled out of its state and its slot claim.
use aerodb_promotion::{AuthorityTransitioning, Promotion, PromotionApproved, Transition};

fn unpack(approved: Promotion<PromotionApproved>) {
    let _parts = <PromotionApproved as Transition<AuthorityTransitioning>>::source(approved, Default::default());
}

fn main() {}
