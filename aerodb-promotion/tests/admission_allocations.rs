//! The write path allocates nothing: a million admissions (and refusals) under a counting
//! allocator. Alone in its binary so no other test's allocations are counted. The allocator is
//! process-wide, so the test harness's own thread (reporting that the test started) can
//! allocate during a window: the claim holds if one of a few windows counts none, since an
//! allocating write path would allocate in every window.

use aerodb_core::{Epoch, NodeId};
use aerodb_promotion::testing::detached_primary_gate_for_tests;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

#[test]
fn admit_write_allocates_nothing() {
    let primary = detached_primary_gate_for_tests(NodeId::new("primary-0").expect("valid id"));
    let fenced = detached_primary_gate_for_tests(NodeId::new("primary-0").expect("valid id"));
    fenced.observe_epoch(Epoch::new(4));
    let mut windows = Vec::new();
    for _ in 0..5 {
        let region = Region::new(GLOBAL);
        let mut admitted = 0u64;
        for _ in 0..1_000_000 {
            admitted += u64::from(std::hint::black_box(&primary).admit_write().is_ok());
            admitted += u64::from(std::hint::black_box(&fenced).admit_write().is_ok());
        }
        let change = region.change();
        assert_eq!(admitted, 1_000_000);
        windows.push((change.allocations, change.reallocations));
        if windows.last() == Some(&(0, 0)) {
            return;
        }
    }
    panic!("the write path must not allocate; (allocations, reallocations) per window: {windows:?}");
}
