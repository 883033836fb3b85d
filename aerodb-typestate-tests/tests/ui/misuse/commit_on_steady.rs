//! The durable commit is only reachable from `AuthorityTransitioning`: on `Steady` it names the pair.
use aerodb_promotion::testing::MemoryStore;
use aerodb_promotion::{Promotion, PromotionSlot};

fn main() {
    let mut store = MemoryStore::default();
    let slot = PromotionSlot::new();
    let _succeeded = Promotion::new(&slot).commit(&mut store);
}
