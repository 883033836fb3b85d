//! Forbidden: `PromotionSucceeded` → `PromotionSucceeded` (docs/PROTOCOL.md §3). Must not compile.

fn require<From: aerodb_promotion::Transition<To>, To: aerodb_promotion::PromotionState>() {}

fn main() {
    require::<aerodb_promotion::PromotionSucceeded, aerodb_promotion::PromotionSucceeded>();
}
