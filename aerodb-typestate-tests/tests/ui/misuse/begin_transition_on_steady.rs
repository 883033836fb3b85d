//! Calling a named transition on the wrong state names the forbidden pair.
use aerodb_promotion::{Promotion, PromotionSlot};

fn main() {
    let slot = PromotionSlot::new();
    let _transitioning = Promotion::new(&slot).begin_transition();
}
