//! Forbidden: `PromotionApproved` → `PromotionDenied` (docs/PROTOCOL.md §3). Must not compile.

fn require<From: aerodb_promotion::Transition<To>, To: aerodb_promotion::PromotionState>() {}

fn main() {
    require::<aerodb_promotion::PromotionApproved, aerodb_promotion::PromotionDenied>();
}
