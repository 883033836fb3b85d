//! A request cannot skip screening: deciding from `PromotionRequested` names the forbidden pairs.
use aerodb_promotion::{OldPrimary, Promotion, PromotionRequest, PromotionSlot, ValidationInputs};

fn main() {
    let slot = PromotionSlot::new();
    let request = PromotionRequest::builder("replica-1").build().unwrap();
    let inputs = ValidationInputs { authority: None, nodes: vec![], old_primary: OldPrimary::Unknown, acknowledged: None };
    let _decision = Promotion::new(&slot).request(request).decide(&inputs);
}
