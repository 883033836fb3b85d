//! P6-A1, P6-A3: only the commit edge (or bootstrap) hands a store a record. A consumer can
//! build or decode a record, but cannot make the `Proposal` that `AuthorityStore::commit` takes.
use aerodb_core::NodeId;
use aerodb_promotion::testing::MemoryStore;
use aerodb_promotion::{AuthorityRecord, AuthorityStore, Proposal};

fn main() {
    let mut store = MemoryStore::default();
    let record = AuthorityRecord::bootstrap(NodeId::new("rogue").unwrap());
    let _ = store.commit(&Proposal::new(Some(record.clone()), record.clone()));
}
