//! States are not `Clone`: an attempt cannot be duplicated to run twice.
use aerodb_promotion::{Promotion, PromotionSlot};

fn main() {
    let slot = PromotionSlot::new();
    let steady = Promotion::new(&slot);
    let _twin = steady.clone();
}
