//! A `Promotion<S>` cannot be built from outside: its fields are private.
use aerodb_promotion::{Promotion, PromotionApproved, PromotionSlot};

fn main() {
    let _forged: Promotion<PromotionApproved> = Promotion { slot: PromotionSlot::new(), data: Box::new(todo!()) };
}
