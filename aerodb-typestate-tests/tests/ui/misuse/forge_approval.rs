//! Only the validator mints an `Approval`: its fields are private.
use aerodb_promotion::{Approval, PromotionRequest};

fn main() {
    let request = PromotionRequest::builder("replica-1").build().unwrap();
    let _forged = Approval { request, checks: Vec::new(), plan: todo!() };
}
