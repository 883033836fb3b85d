//! A state is consumed by its transition: using it again does not compile.
use aerodb_promotion::{Promotion, PromotionRequest, PromotionSlot};

fn main() {
    let slot = PromotionSlot::new();
    let steady = Promotion::new(&slot);
    let request = PromotionRequest::builder("replica-1").build().unwrap();
    let _requested = steady.request(request.clone());
    let _again = steady.request(request);
}
