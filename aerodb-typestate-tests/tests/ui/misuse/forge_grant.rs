//! P6-A3: a `PrimaryGrant` is minted only from a durable record by the store handle that read
//! it; it cannot be built or copied, nor pointed at another record or store.
use aerodb_promotion::{AuthorityRecord, PrimaryGrant, PromotionSlot};

fn forge(record: AuthorityRecord) -> PrimaryGrant {
    PrimaryGrant { record, slot: PromotionSlot::new() }
}

fn main() {
    let _ = forge;
}
