//! A request cannot skip screening: deciding from `PromotionRequested` names the forbidden pairs.
use aerodb_promotion::{Promotion, PromotionRequest, PromotionSlot, ValidationInputs};

fn main() {
    let slot = PromotionSlot::new();
    let request = PromotionRequest::builder("replica-1").build().unwrap();
    let inputs = ValidationInputs::new(None);
    let _decision = Promotion::new(&slot).request(request).decide(&inputs);
}
