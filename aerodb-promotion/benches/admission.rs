//! Steady-state cost of promotion on the write path: `WriteGate::admit_write()` against a
//! bare atomic load and compare, measured in the same run.
//!
//! `cargo bench -p aerodb-promotion --bench admission`

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use aerodb_core::NodeId;
use aerodb_promotion::testing::detached_primary_gate_for_tests;
use criterion::{Criterion, criterion_group, criterion_main};

fn admission(c: &mut Criterion) {
    let mut group = c.benchmark_group("admit_write");
    let gate = detached_primary_gate_for_tests(NodeId::new("primary-0").expect("valid id"));
    group.bench_function("WriteGate::admit_write", |b| b.iter(|| black_box(&gate).admit_write()));
    let bare = AtomicU64::new((1 << 63) | 1);
    group.bench_function("baseline: AtomicU64 load + compare", |b| {
        b.iter(|| {
            let word = black_box(&bare).load(Ordering::Acquire);
            if word >> 62 == 0b10 { Ok(word & ((1 << 62) - 1)) } else { Err(word) }
        })
    });
    group.finish();
}

criterion_group!(benches, admission);
criterion_main!(benches);
