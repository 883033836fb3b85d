//! Errors print their cause once: a chain reporter (each message, then each `source()`) never
//! shows the same cause twice, because no message that embeds a cause also returns it as its
//! source. Every error here comes from a real failing call.

mod common;

use std::error::Error;

use aerodb_core::{HistoryError, ReplicationState};
use aerodb_promotion::testing::caught_up_inputs;
use aerodb_promotion::*;
use common::*;

/// `error`'s message, then every source's, as a chain reporter prints them.
fn chain(error: &dyn Error) -> Vec<String> {
    let mut out = vec![error.to_string()];
    let mut next = error.source();
    while let Some(cause) = next {
        out.push(cause.to_string());
        next = cause.source();
    }
    out
}

fn assert_cause_once(name: &str, error: &dyn Error) {
    let chain = chain(error);
    for (i, outer) in chain.iter().enumerate() {
        for inner in &chain[i + 1..] {
            assert!(!outer.contains(inner.as_str()), "{name}: {outer:?} repeats its source {inner:?}");
        }
    }
}

#[test]
fn every_error_prints_its_cause_once() {
    let dir = temp_dir("errors");
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, b"x").unwrap();
    let io = FileAuthorityStore::open(file.join("data")).unwrap_err();
    assert!(matches!(io, StoreError::Io { .. }), "{io}");
    assert_cause_once("StoreError::Io", &io);

    let mut store = FileAuthorityStore::open(dir.path().join("data")).unwrap();
    let first = store.bootstrap(id("primary-0")).unwrap();
    std::fs::write(store.record_path(), b"AERODBAR").unwrap();
    let corrupt = store.load().unwrap_err();
    assert!(matches!(corrupt, StoreError::Corrupt { .. }));
    assert_cause_once("StoreError::Corrupt", &corrupt);
    assert_cause_once("StoreError::Conflict", &store.bootstrap(id("x")).unwrap_err());
    let mut other = FileAuthorityStore::open(dir.path().join("other")).unwrap();
    let other_first = other.bootstrap(id("other-0")).unwrap();
    let inputs = caught_up_inputs(&other_first, id("replica-1"), 64);
    let mut crossed = Crossed { validated: &other, target: &mut store };
    std::fs::write(crossed.target.record_path(), first.to_bytes().unwrap()).unwrap();
    let approved = approve(&crossed, "replica-1", &inputs);
    let mismatch = approved.begin_transition().commit(&mut crossed).unwrap_err();
    assert!(matches!(mismatch.error(), CommitError::PredecessorMismatch(_)), "{}", mismatch.error());
    assert_cause_once("CommitError::PredecessorMismatch", mismatch.error());

    let mut failing = FailingCommits::default();
    let record = failing.bootstrap(id("primary-0")).unwrap();
    let inputs = caught_up_inputs(&record, id("replica-1"), 10);
    let failure =
        approve(&failing, "replica-1", &inputs).begin_transition().commit(&mut failing).unwrap_err();
    assert_cause_once("CommitError::Store", failure.error());
    assert_cause_once("CommitFailure", &*failure);

    let mut memory = aerodb_promotion::testing::MemoryStore::default();
    memory.bootstrap(id("primary-0")).unwrap();
    let slot = PromotionSlot::new();
    let stale = Promotion::new(&slot)
        .request(request("replica-1"))
        .begin_validation(PromotionPolicy::Enabled, &caught_up_inputs(&first, id("replica-1"), 10))
        .unwrap();
    let Decision::Approved(stale) = stale.decide(&caught_up_inputs(&first, id("replica-1"), 10)) else {
        panic!()
    };
    let _ = approve(&memory, "replica-2", &caught_up_inputs(&first, id("replica-2"), 10))
        .begin_transition()
        .commit(&mut memory)
        .unwrap()
        .complete();
    let conflict = stale.begin_transition().commit(&mut memory).unwrap_err();
    assert!(matches!(conflict.error(), CommitError::Conflict(_)));
    assert_cause_once("CommitError::Conflict", conflict.error());

    assert_cause_once("RequestError::Candidate", &PromotionRequest::builder("").build().unwrap_err());
    let invalid = DecodeError::from(RecordError::from(HistoryError::Empty));
    assert_cause_once("DecodeError::Invalid", &invalid);
    let rejected = Promotion::new(&PromotionSlot::new())
        .request(request("replica-9"))
        .begin_validation(PromotionPolicy::Enabled, &inputs)
        .unwrap_err();
    assert_cause_once("Rejected", &*rejected);

    let mut fresh = aerodb_promotion::testing::MemoryStore::default();
    fresh.bootstrap(id("primary-0")).unwrap();
    let grant = recover(&fresh).unwrap().grant.unwrap();
    let gate = WriteGate::replica(grant.node(), None).unwrap();
    let halted = ReplicationState::ReplicationHalted { reason: aerodb_core::HaltReason::WalGap };
    assert_cause_once("RebindError::Role", &grant.rebind(halted, &gate, &fresh).unwrap_err());
}
