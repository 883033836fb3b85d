//! The write path allocates nothing: a million admissions (and refusals) under a counting
//! allocator. Alone in its binary so no other test's allocations are counted.

use aerodb_core::{Epoch, NodeId, ReplicationState};
use aerodb_promotion::testing::MemoryStore;
use aerodb_promotion::{AuthorityStore, WriteAuthority, recover};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// A primary's gate, made the only way there is: bootstrap a record, recover its grant, rebind.
fn primary_gate() -> WriteAuthority {
    let mut store = MemoryStore::default();
    let primary = NodeId::new("primary-0").expect("valid id");
    store.bootstrap(primary).expect("bootstrap");
    let gate = WriteAuthority::replica(primary, Epoch(0)).expect("epoch fits");
    let grant = recover(&store).expect("recover").grant.expect("a record");
    grant.rebind(ReplicationState::Uninitialized, &gate).expect("rebind");
    gate
}

#[test]
fn admit_write_allocates_nothing() {
    let primary = primary_gate();
    let fenced = primary_gate();
    fenced.observe_epoch(Epoch(4));
    let region = Region::new(GLOBAL);
    let mut admitted = 0u64;
    for _ in 0..1_000_000 {
        admitted += u64::from(std::hint::black_box(&primary).admit_write().is_ok());
        admitted += u64::from(std::hint::black_box(&fenced).admit_write().is_ok());
    }
    let change = region.change();
    assert_eq!(admitted, 1_000_000);
    assert_eq!((change.allocations, change.reallocations), (0, 0), "the write path must not allocate");
}
