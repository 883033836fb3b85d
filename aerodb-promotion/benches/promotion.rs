//! Promotion benchmarks; each compares against a baseline measured in the same run where one
//! exists. Figures and targets: BENCHMARKS.md.
//!
//! `cargo bench -p aerodb-promotion --bench promotion`

use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};

use aerodb_core::{Epoch, EpochHistory, EpochStart, Lsn, NodeId, WalPosition};
use aerodb_promotion::testing::runtime::RuntimeMachine;
use aerodb_promotion::testing::{MemoryStore, caught_up_inputs};
use aerodb_promotion::*;
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};

fn id(name: &str) -> NodeId {
    NodeId::new(name).expect("valid id")
}

fn store_at_epoch_one() -> (MemoryStore, ValidationInputs) {
    let mut store = MemoryStore::default();
    let record = store.bootstrap(id("primary-0")).expect("bootstrap");
    let inputs = caught_up_inputs(&record, id("replica-1"), 4096);
    (store, inputs)
}

fn request() -> PromotionRequest {
    PromotionRequest::builder("replica-1").reason("bench").build().expect("valid request")
}

fn lifecycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("lifecycle");
    group.bench_function("typestate Promotion<S>", |b| {
        b.iter_batched(
            store_at_epoch_one,
            |(mut store, inputs)| {
                let steady = Promotion::new(store.slot());
                let validating = steady
                    .request(request())
                    .begin_validation(PromotionPolicy::Enabled, &inputs)
                    .expect("screened");
                let Decision::Approved(approved) = validating.decide(&inputs) else { panic!("approves") };
                let succeeded = approved.begin_transition().commit(&mut store).expect("commits");
                // The store outlives a promotion: hand it back so it is dropped outside the timing.
                (succeeded.complete(), store)
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("baseline: runtime enum machine", |b| {
        b.iter_batched(
            store_at_epoch_one,
            |(mut store, inputs)| {
                let machine = RuntimeMachine::new(store.slot())
                    .request(request())
                    .and_then(|m| m.begin_validation(PromotionPolicy::Enabled, &inputs))
                    .and_then(|m| m.decide(&inputs))
                    .and_then(RuntimeMachine::begin_transition)
                    .and_then(|m| m.commit(&mut store))
                    .and_then(RuntimeMachine::complete);
                (machine.expect("lifecycle"), store)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn sample_record() -> AuthorityRecord {
    let (mut store, inputs) = store_at_epoch_one();
    let validating = Promotion::new(store.slot())
        .request(request())
        .begin_validation(PromotionPolicy::Enabled, &inputs)
        .expect("screened");
    let Decision::Approved(approved) = validating.decide(&inputs) else { panic!("approves") };
    approved.begin_transition().commit(&mut store).expect("commits").complete().1.record().clone()
}

fn codec(c: &mut Criterion) {
    let record = sample_record();
    let bytes = AuthorityRecord::to_bytes(&record).expect("encodes");
    let mut group = c.benchmark_group("record");
    group.bench_function("encode + CRC", |b| b.iter(|| AuthorityRecord::to_bytes(black_box(&record))));
    group.bench_function("decode + verify", |b| b.iter(|| AuthorityRecord::from_bytes(black_box(&bytes))));
    group.finish();
}

/// Inputs whose authority and candidate share a history of `len` epochs.
fn inputs_with_history(len: u64) -> ValidationInputs {
    let history = EpochHistory::new(
        (1..=len).map(|e| EpochStart { epoch: Epoch::new(e), start: Lsn::new(e * 100) }).collect(),
    )
    .expect("rising history");
    let position = WalPosition::new(Epoch::new(len), Lsn::new(len * 100 + 50));
    let node = |name: &str, replication| {
        NodeView::new(id(name), replication, position)
            .with_history(history.clone())
            .with_mvcc(aerodb_core::MvccBoundary::at_rest(position.lsn))
    };
    let halted = aerodb_core::ReplicationState::ReplicationHalted {
        reason: aerodb_core::HaltReason::AuthorityAmbiguity,
    };
    ValidationInputs::new(Some(AuthorityView::new(id("primary-0"), history.clone())))
        .with_node(node("primary-0", halted))
        .with_node(node("replica-1", aerodb_core::ReplicationState::ReplicaActive))
        .with_node(node("replica-2", aerodb_core::ReplicationState::ReplicaActive))
        .with_old_primary(OldPrimary::ConfirmedStopped)
        .with_acknowledged(position)
}

fn validator(c: &mut Criterion) {
    let mut group = c.benchmark_group("validator");
    let request = request();
    for len in [1, 16, 64] {
        let inputs = inputs_with_history(len);
        assert!(matches!(assess(PromotionPolicy::Enabled, &request, &inputs).verdict, Verdict::Approve(_)));
        group.bench_with_input(BenchmarkId::new("assess, history entries", len), &inputs, |b, inputs| {
            b.iter(|| assess(PromotionPolicy::Enabled, black_box(&request), black_box(inputs)))
        });
    }
    group.finish();
}

/// A fresh directory under Cargo's target tmp dir (on the real file system, not tmpfs).
fn bench_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

/// The same bytes made durable with bare std calls: temp write + fsync + rename + dir fsync.
fn bare_durable_write(dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temp = dir.join("authority.record.tmp");
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, dir.join("authority.record"))?;
    File::open(dir)?.sync_all()
}

/// The next approved promotion of `store`'s authority, transitioning: everything before the
/// commit edge, prepared outside the timed region.
fn next_transition(store: &FileAuthorityStore) -> Promotion<AuthorityTransitioning> {
    let current = store.load().expect("load").expect("a record");
    let candidate = if current.primary() == id("node-a") { "node-b" } else { "node-a" };
    let inputs = caught_up_inputs(&current, id(candidate), current.start().lsn.get() + 1);
    let request = PromotionRequest::builder(candidate).build().expect("valid");
    let validating = recover(store)
        .expect("recover")
        .steady
        .request(request)
        .begin_validation(PromotionPolicy::Enabled, &inputs)
        .expect("screened");
    let Decision::Approved(approved) = validating.decide(&inputs) else { panic!("approves") };
    approved.begin_transition()
}

fn durable_commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("durable_commit");
    group.sample_size(30);
    let dir = bench_dir("commit");
    let mut store = FileAuthorityStore::open(&dir).expect("open");
    store.bootstrap(id("node-a")).expect("bootstrap");
    group.bench_function("commit edge (successor check + FileAuthorityStore::commit)", |b| {
        b.iter_custom(|iters| {
            // Each promotion is validated outside the timed region: only the commit edge is measured.
            let mut timed = std::time::Duration::ZERO;
            for _ in 0..iters {
                let transitioning = next_transition(&store);
                let start = std::time::Instant::now();
                let succeeded = transitioning.commit(&mut store).expect("commit");
                timed += start.elapsed();
                let _ = succeeded.complete();
            }
            timed
        })
    });
    let current = store.load().expect("load").expect("a record");
    let bytes = AuthorityRecord::to_bytes(&current).expect("encodes");
    let bare = bench_dir("bare");
    group.bench_function("baseline: bare std temp+fsync+rename+dir fsync", |b| {
        b.iter(|| bare_durable_write(&bare, black_box(&bytes)).expect("durable write"))
    });
    // The commit makes the record and its high-water copy durable (never backwards, P6-A1):
    // the same two durable replaces with bare std calls are its floor.
    let copy = bench_dir("bare-copy");
    group.bench_function("baseline: bare std, record and a copy (two durable replaces)", |b| {
        b.iter(|| {
            bare_durable_write(&bare, black_box(&bytes)).expect("durable write");
            bare_durable_write(&copy, black_box(&bytes)).expect("durable write")
        })
    });
    group.finish();
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&bare);
    let _ = std::fs::remove_dir_all(&copy);
}

fn recovery(c: &mut Criterion) {
    let dir = bench_dir("recovery");
    FileAuthorityStore::open(&dir).expect("open").bootstrap(id("node-a")).expect("bootstrap");
    let mut group = c.benchmark_group("recovery");
    group.bench_function("open + read + verify", |b| {
        b.iter(|| {
            let store = FileAuthorityStore::open(black_box(&dir)).expect("open");
            black_box(recover(&store).expect("recover").authority)
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, lifecycle, codec, validator, durable_commit, recovery);
criterion_main!(benches);
