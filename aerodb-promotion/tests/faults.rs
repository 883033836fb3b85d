//! I/O fault injection at every operation of a commit, of an open + recover (stage 6.7), and of
//! a report swap.
//!
//! Each point is tested twice, as SQLite does: a fault that happens once, and one that persists
//! for every later operation; with EIO, ENOSPC and a short write. After each, the failure is
//! typed, nothing is retried, and a fresh open finds exactly the old or the new record, with
//! crash leftovers removed. Figures: `cargo test -p aerodb-promotion --test faults -- --nocapture`.

mod common;

use aerodb_promotion::testing::caught_up_inputs;
use aerodb_promotion::*;
use common::faulty::{FaultKind, Faulty, Plan};
use common::*;

/// The record epoch 1 led by `primary-0`, durable in a fresh directory.
fn setup(tag: &str) -> (TempDir, AuthorityRecord) {
    let dir = temp_dir(tag);
    let record = FileAuthorityStore::open(dir.path()).unwrap().bootstrap(id("primary-0")).unwrap();
    (dir, record)
}

/// Reopens with the real backend: the authority must be exactly `old` or its promoted successor.
fn assert_old_or_new(dir: &TempDir, old: &AuthorityRecord) -> &'static str {
    let store = FileAuthorityStore::open(dir.path()).expect("a fresh open after a fault must succeed");
    let record = recover(&store).expect("recovery after a fault must succeed").authority.expect("a record");
    assert!(!dir.path().join("metadata/authority.record.tmp").exists(), "leftovers are cleaned");
    if &record == old {
        return "old";
    }
    assert_eq!(record.epoch().get(), old.epoch().get() + 1, "a third state: {record:?}");
    assert_eq!(record.primary(), id("replica-1"));
    assert_eq!(record.previous_primary(), Some(old.primary()));
    "new"
}

/// A commit's operations up to and including its commit point's directory fsync.
const COMMIT_POINT_OPS: usize = 6;

#[test]
fn a_fault_at_every_commit_operation_leaves_old_or_new() {
    let mut points = 0;
    let mut outcomes = std::collections::BTreeMap::new();
    let mut commit_ops = 0;
    for persistent in [false, true] {
        for kind in FaultKind::ALL {
            for at in 0.. {
                let (dir, old) = setup("fault-commit");
                let mut store = FileAuthorityStore::open_with(Faulty::default(), dir.path()).unwrap();
                let inputs = caught_up_inputs(&old, id("replica-1"), 64);
                let approved = approve(&store, "replica-1", &inputs);
                let transitioning = approved.begin_transition();
                store.backend().arm(Plan { at, persistent, kind });
                let result = transitioning.commit(&mut store);
                if !store.backend().hit() {
                    assert!(result.is_ok(), "no fault, so the commit succeeds");
                    commit_ops = store.backend().ops();
                    drop(store);
                    assert_eq!(assert_old_or_new(&dir, &old), "new");
                    break;
                }
                assert_eq!(
                    store.backend().ops(),
                    at + 1,
                    "no operation after the failing one: never retried"
                );
                match result {
                    // Past the commit point (the rename and its directory fsync), only the
                    // high-water copy was being written: the commit stands, the handle is done.
                    Ok(_) => {
                        assert!(
                            at >= COMMIT_POINT_OPS,
                            "a fault at op {at}, before the commit point, was swallowed"
                        );
                        assert!(
                            matches!(store.load(), Err(StoreError::Poisoned(_))),
                            "the handle refuses all use"
                        );
                    }
                    Err(failure) => {
                        assert!(at < COMMIT_POINT_OPS, "an applied commit reported as failed at op {at}");
                        assert!(
                            matches!(failure.error(), CommitError::Store(StoreError::Io { .. })),
                            "{}",
                            failure.error()
                        );
                    }
                }
                drop(store);
                let outcome = assert_old_or_new(&dir, &old);
                if at >= COMMIT_POINT_OPS {
                    assert_eq!(outcome, "new", "after the commit point");
                }
                *outcomes.entry((at, outcome)).or_insert(0) += 1;
                points += 1;
            }
        }
    }
    assert_eq!(
        commit_ops, 11,
        "one read (the stale-authority check's, which the compare-and-swap reuses under the lock), create, write, fsync, rename, fsync dir; then the same five for the high-water copy"
    );
    assert_eq!(points, 2 * 3 * commit_ops);
    eprintln!(
        "fault injection, commit: {points} faulted runs over {commit_ops} operations x 3 kinds x once/persistent; outcomes (op, state): {outcomes:?}"
    );
}

#[test]
fn a_fault_at_every_open_and_recover_operation_is_typed_and_harmless() {
    let mut points = 0;
    let mut open_ops = 0;
    for persistent in [false, true] {
        for kind in FaultKind::ALL {
            for at in 0.. {
                let (dir, old) = setup("fault-open");
                std::fs::write(dir.path().join("metadata/authority.record.tmp"), b"crashed commit").unwrap();
                let backend = Faulty::armed(Plan { at, persistent, kind });
                let outcome = FileAuthorityStore::open_with(backend, dir.path()).and_then(|store| {
                    let authority = recover(&store)?.authority;
                    Ok((authority, store.backend().hit(), store.backend().ops()))
                });
                match outcome {
                    Ok((authority, false, ops)) => {
                        assert_eq!(authority, Some(old.clone()));
                        open_ops = ops;
                        break;
                    }
                    Ok((_, true, _)) => panic!("a fault at op {at} went unreported"),
                    Err(error) => assert!(matches!(error, StoreError::Io { .. }), "untyped failure: {error}"),
                }
                assert_eq!(assert_old_or_new(&dir, &old), "old");
                points += 1;
            }
        }
    }
    assert_eq!(
        open_ops, 11,
        "create dir, stat metadata dir, stat record, lock, remove leftover, remove the high-water copy's leftover, \
         fsync metadata dir, fsync data dir, read the high-water copy, read the record, read (recover)"
    );
    assert_eq!(points, 2 * 3 * open_ops);
    eprintln!(
        "fault injection, open + recover: {points} faulted runs over {open_ops} operations x 3 kinds x once/persistent"
    );
}

/// P6-F2, §5: an open that creates its data directory and a parent fails, typed and naming the
/// step and path, at a fault in any of its operations — the fsyncs of the parents it created in
/// included, never skipped or retried — and a later open of the same path completes it.
#[test]
fn a_fault_at_every_operation_of_an_open_that_creates_directories_is_typed_and_final() {
    let mut points = 0;
    for persistent in [false, true] {
        for kind in FaultKind::ALL {
            for at in 0.. {
                let root = temp_dir("fault-new-dir");
                let (parent, data_dir) = (root.path().join("parent"), root.path().join("parent/data"));
                let metadata = data_dir.join("metadata");
                let steps = [
                    (IoStep::CreateDir, metadata.clone()),
                    (IoStep::CreateDir, data_dir.clone()),
                    (IoStep::CreateDir, parent.clone()),
                    (IoStep::CreateDir, data_dir.clone()),
                    (IoStep::CreateDir, metadata.clone()),
                    (IoStep::Stat, metadata.clone()),
                    (IoStep::Stat, metadata.join("authority.record")),
                    (IoStep::Lock, metadata.join("authority.lock")),
                    (IoStep::Remove, metadata.join("authority.record.tmp")),
                    (IoStep::Remove, metadata.join("authority.highest.tmp")),
                    (IoStep::SyncDir, metadata.clone()),
                    (IoStep::SyncDir, data_dir.clone()),
                    (IoStep::SyncDir, parent.clone()),
                    (IoStep::SyncDir, root.path().to_owned()),
                    (IoStep::Read, metadata.join("authority.highest")),
                    (IoStep::Read, metadata.join("authority.record")),
                ];
                match FileAuthorityStore::open_with(Faulty::armed(Plan { at, persistent, kind }), &data_dir) {
                    Ok(store) => {
                        assert!(!store.backend().hit(), "a fault at op {at} went unreported");
                        assert_eq!(store.backend().ops(), steps.len(), "{:?}", steps);
                        assert!(store.open_report().created_metadata);
                        break;
                    }
                    Err(StoreError::Io { step, location, .. }) => {
                        assert_eq!(
                            (step, location),
                            (steps[at].0, Location::path(&steps[at].1)),
                            "the failing op, named"
                        )
                    }
                    Err(other) => panic!("untyped failure at op {at}: {other}"),
                }
                let mut store = FileAuthorityStore::open(&data_dir).expect("a later open completes it");
                assert_eq!(store.load().unwrap(), None);
                store.bootstrap(id("primary-0")).unwrap();
                points += 1;
            }
        }
    }
    assert_eq!(
        points,
        2 * 3 * 16,
        "16 operations: 5 mkdir (2 missing), 2 stat, lock, 2 remove, 4 fsync dir, 2 read"
    );
    eprintln!("fault injection, open creating its directories: {points} faulted runs over 16 operations");
}

/// A report swap's operations before its writes: the record's read and the report's.
const REPORT_READ_OPS: usize = 2;

/// §5, P6-F3 for the primary's report: a fault at any operation of a swap is a typed I/O
/// error with no operation after it (never retried); a fault in its writes (temp file, fsync,
/// rename, directory fsync) poisons the handle, as a commit's does; a fresh open finds exactly
/// the old report or the new one, and the authority untouched.
#[test]
fn a_fault_at_every_report_swap_operation_is_final_and_leaves_old_or_new() {
    let mut points = 0;
    let mut swap_ops = 0;
    let mut outcomes = std::collections::BTreeMap::new();
    for persistent in [false, true] {
        for kind in FaultKind::ALL {
            for at in 0.. {
                let (dir, record) = setup("fault-report");
                let old = PrimaryReport::new(record.epoch(), record.primary());
                let new = old.clone().with_stop_requested();
                FileAuthorityStore::open(dir.path()).unwrap().swap_report(None, &old).unwrap();
                let mut store = FileAuthorityStore::open_with(Faulty::default(), dir.path()).unwrap();
                store.backend().arm(Plan { at, persistent, kind });
                let result = store.swap_report(Some(&old), &new);
                if !store.backend().hit() {
                    assert!(result.is_ok(), "no fault, so the swap succeeds: {result:?}");
                    swap_ops = store.backend().ops();
                    break;
                }
                assert_eq!(
                    store.backend().ops(),
                    at + 1,
                    "no operation after the failing one: never retried"
                );
                assert!(
                    matches!(result, Err(StoreError::Io { .. })),
                    "untyped failure at op {at}: {result:?}"
                );
                let poisoned = matches!(store.load_report(), Err(StoreError::Poisoned(_)));
                assert_eq!(
                    poisoned,
                    at >= REPORT_READ_OPS,
                    "a failed write, and only a write, poisons (op {at})"
                );
                if poisoned {
                    assert!(matches!(store.load(), Err(StoreError::Poisoned(_))));
                    assert!(matches!(store.swap_report(Some(&old), &new), Err(StoreError::Poisoned(_))));
                }
                drop(store);
                let store = FileAuthorityStore::open(dir.path()).expect("a fresh open after a fault");
                assert_eq!(store.load().unwrap(), Some(record.clone()), "the authority is untouched");
                let found = store.load_report().expect("the report decodes").expect("a report");
                let outcome = if found == old { "old" } else { "new" };
                assert!(found == old || found == new, "a third state: {found:?}");
                if at < REPORT_READ_OPS {
                    assert_eq!(outcome, "old", "nothing was written");
                }
                *outcomes.entry((at, outcome)).or_insert(0) += 1;
                points += 1;
            }
        }
    }
    assert_eq!(swap_ops, 7, "read the record, read the report, create, write, fsync, rename, fsync dir");
    assert_eq!(points, 2 * 3 * swap_ops);
    eprintln!(
        "fault injection, report swap: {points} faulted runs over {swap_ops} operations x 3 kinds x once/persistent; outcomes (op, state): {outcomes:?}"
    );
}
