//! The etcd store against real etcd members on loopback (Debian's `etcd-server`), each beside
//! a baseline measured in the same run on the same gateway client. Figures: BENCHMARKS.md.
//!
//! `cargo bench -p aerodb-etcd --bench etcd`

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aerodb_etcd::EtcdAuthorityStore;
use aerodb_etcd::harness::{BareClient, Cluster};
use aerodb_promotion::testing::caught_up_inputs;
use aerodb_promotion::{
    AuthorityRecord, AuthorityStore, Decision, PromotionPolicy, PromotionRequest, recover,
};
use common::node;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

static NEXT: AtomicU64 = AtomicU64::new(0);

fn fresh_key() -> String {
    format!("/aerodb/bench/{}/authority", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn etcd(c: &mut Criterion) {
    for members in [1, 3] {
        let dir =
            tempfile::Builder::new().prefix("aerodb-etcd-bench-").tempdir().expect("temporary directory");
        let cluster = Cluster::start(dir.path(), members).unwrap_or_else(|e| panic!("{e}"));
        let connection = cluster.connection();
        let bare = BareClient::new(&connection).expect("client");
        let bytes = AuthorityRecord::bootstrap(node("n0")).to_bytes().expect("encodes");
        let mut group =
            c.benchmark_group(format!("etcd {members} member{}", if members == 1 { "" } else { "s" }));
        group.sample_size(50).measurement_time(Duration::from_secs(8));

        // One compare-and-put: the store's first record against the bare transaction of the
        // same bytes.
        group.bench_function("commit: store (bootstrap)", |b| {
            b.iter_batched(
                || EtcdAuthorityStore::open(&connection, &fresh_key()).expect("open"),
                |mut store| {
                    store.bootstrap(node("n0")).expect("commits");
                    store
                },
                BatchSize::PerIteration,
            )
        });
        // Its baseline starts as the store does: a new client that has read the key once.
        group.bench_function("commit: baseline bare compare-and-put", |b| {
            b.iter_batched(
                || {
                    let client = BareClient::new(&connection).expect("client");
                    let key = fresh_key();
                    client.get(&key).expect("reads");
                    (client, key)
                },
                |(client, key)| {
                    assert!(client.compare_and_put(&key, 0, &bytes).expect("commits"));
                    client
                },
                BatchSize::PerIteration,
            )
        });

        // The commit edge of a promotion (it reads the durable record, then compares and puts)
        // against a bare get and compare-and-put.
        group.bench_function("promotion commit edge: store", |b| {
            b.iter_batched(
                || {
                    let mut store = EtcdAuthorityStore::open(&connection, &fresh_key()).expect("open");
                    let record = store.bootstrap(node("n0")).expect("bootstrap");
                    let inputs = caught_up_inputs(&record, node("n1"), 100);
                    let request = PromotionRequest::builder("n1").build().expect("request");
                    let steady = recover(&store).expect("recover").steady;
                    let validating = steady
                        .request(request)
                        .begin_validation(PromotionPolicy::Enabled, &inputs)
                        .expect("screened");
                    let Decision::Approved(approved) = validating.decide(&inputs) else { panic!("approves") };
                    (store, approved.begin_transition())
                },
                |(mut store, transitioning)| {
                    let succeeded = transitioning.commit(&mut store).expect("commits");
                    (succeeded.complete(), store)
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_function("promotion commit edge: baseline bare get + compare-and-put", |b| {
            b.iter_batched(
                || {
                    let key = fresh_key();
                    assert!(bare.compare_and_put(&key, 0, &bytes).expect("creates"));
                    key
                },
                |key| {
                    let (_, revision) = bare.get(&key).expect("reads").expect("exists");
                    assert!(bare.compare_and_put(&key, revision, &bytes).expect("commits"));
                },
                BatchSize::PerIteration,
            )
        });

        // Recovery's read against a bare linearizable get.
        let key = fresh_key();
        let mut store = EtcdAuthorityStore::open(&connection, &key).expect("open");
        store.bootstrap(node("n0")).expect("bootstrap");
        group.bench_function("recovery read: store", |b| {
            b.iter(|| black_box(recover(&store).expect("recovers")))
        });
        group.bench_function("recovery read: baseline bare get", |b| {
            b.iter(|| black_box(bare.get(&key).expect("reads")))
        });
        group.finish();
        drop(store);
    }
}

criterion_group!(benches, etcd);
criterion_main!(benches);
