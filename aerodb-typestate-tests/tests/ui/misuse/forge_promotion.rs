//! A `Promotion<S>` cannot be built from outside: its fields are private.
use aerodb_promotion::{Promotion, PromotionApproved};

fn main() {
    let _forged: Promotion<PromotionApproved> = Promotion { parts: todo!() };
}
