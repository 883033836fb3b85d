//! The file store: conformance suite, lock exclusivity, crash leftovers (the lock across
//! processes: `store_lock_process.rs`).

mod common;

use std::path::{Path, PathBuf};

use aerodb_promotion::file_store::{HIGHEST_FILE, HIGHEST_TEMP_FILE, RECORD_FILE, REPORT_FILE, read_record};
use aerodb_promotion::testing::{MemoryHarness, StoreHarness, Suite};
use aerodb_promotion::*;
use common::*;

/// Runs the public conformance suite against `FileAuthorityStore` on real directories.
#[derive(Default)]
struct FileHarness {
    dirs: Vec<TempDir>,
}

fn data_dir(store: &FileAuthorityStore) -> PathBuf {
    store.record_path().parent().and_then(Path::parent).unwrap().to_owned()
}

impl StoreHarness for FileHarness {
    type Store = FileAuthorityStore;

    fn fresh(&mut self) -> FileAuthorityStore {
        let dir = temp_dir("suite");
        let store = FileAuthorityStore::open(dir.path()).unwrap();
        self.dirs.push(dir);
        store
    }

    fn reopen(&mut self, store: FileAuthorityStore) -> FileAuthorityStore {
        let dir = data_dir(&store);
        drop(store);
        FileAuthorityStore::open(dir).unwrap()
    }

    fn tamper_with_record(&mut self, store: &mut FileAuthorityStore, bytes: &[u8]) -> bool {
        std::fs::write(store.record_path(), bytes).unwrap();
        true
    }

    fn tamper_with_report(&mut self, store: &mut FileAuthorityStore, bytes: &[u8]) -> bool {
        std::fs::write(store.record_path().with_file_name(REPORT_FILE), bytes).unwrap();
        true
    }

    fn leave_crash_leftovers(&mut self, store: &mut FileAuthorityStore) -> bool {
        let temp = store.record_path().with_file_name("authority.record.tmp");
        std::fs::write(temp, b"AERODBAR\x01\x00half-written").unwrap();
        true
    }

    fn open_second(&mut self, store: &FileAuthorityStore) -> Option<Result<FileAuthorityStore, StoreError>> {
        Some(FileAuthorityStore::open(data_dir(store)))
    }
}

#[test]
fn the_file_store_passes_the_conformance_suite() {
    let report = Suite::run(&mut FileHarness::default());
    assert!(report.skipped.is_empty(), "file store must support every case: skipped {:?}", report.skipped);
    assert_eq!(report.passed.len(), 18);
}

#[test]
fn the_memory_store_passes_what_it_supports() {
    let report = Suite::run(&mut MemoryHarness);
    assert_eq!(report.skipped, ["crash_leftovers_are_ignored_and_cleaned", "second_handle_is_locked_out"]);
}

#[test]
fn the_record_lives_at_the_documented_path() {
    let dir = temp_dir("path");
    let mut store = FileAuthorityStore::open(dir.path()).unwrap();
    assert!(store.open_report().created_metadata);
    store.bootstrap(id("primary-0")).unwrap();
    let path = dir.path().join("metadata").join("authority.record");
    assert_eq!(store.record_path(), path);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(AuthorityRecord::from_bytes(&bytes).unwrap(), store.load().unwrap().unwrap());
    drop(store);
    let again = FileAuthorityStore::open(dir.path()).unwrap();
    assert!(!again.open_report().created_metadata);
}

#[test]
fn crash_leftovers_are_reported_and_removed() {
    let dir = temp_dir("leftovers");
    let mut store = FileAuthorityStore::open(dir.path()).unwrap();
    let record = store.bootstrap(id("primary-0")).unwrap();
    let temp = dir.path().join("metadata/authority.record.tmp");
    std::fs::write(&temp, b"partial").unwrap();
    drop(store);
    let store = FileAuthorityStore::open(dir.path()).unwrap();
    assert_eq!(store.open_report().removed_leftovers, vec![temp.clone()]);
    assert!(!temp.exists());
    assert_eq!(store.load().unwrap(), Some(record));
}

#[test]
fn a_second_controller_is_locked_out_with_a_clear_error() {
    let dir = temp_dir("lock");
    let _first = FileAuthorityStore::open(dir.path()).unwrap();
    let err = FileAuthorityStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }));
    assert!(err.to_string().contains("is locked by another controller"), "{err}");
}

/// P6-A1: a commit compares the whole predecessor, not only its epoch. A promotion validated
/// against one cluster's authority at epoch 2 and committed into another data directory holding
/// a different cluster's epoch 2 (another primary, another history) is refused there as a
/// conflict, naming what differs, and writes nothing.
#[test]
fn a_proposal_validated_against_one_store_is_refused_by_another_at_the_same_epoch() {
    let (dir_a, dir_b) = (temp_dir("crossed-a"), temp_dir("crossed-b"));
    let mut a = FileAuthorityStore::open(dir_a.path()).unwrap();
    let mut b = FileAuthorityStore::open(dir_b.path()).unwrap();
    let a1 = a.bootstrap(id("a-primary")).unwrap();
    let a2 = approve(&a, "a-replica", &aerodb_promotion::testing::caught_up_inputs(&a1, id("a-replica"), 10))
        .begin_transition()
        .commit(&mut a)
        .unwrap()
        .complete()
        .1
        .record()
        .clone();
    let b1 = b.bootstrap(id("b-primary")).unwrap();
    let b2 = approve(&b, "b-replica", &aerodb_promotion::testing::caught_up_inputs(&b1, id("b-replica"), 20))
        .begin_transition()
        .commit(&mut b)
        .unwrap()
        .complete()
        .1
        .record()
        .clone();
    assert_eq!(a2.epoch(), b2.epoch(), "two clusters at the same epoch");

    let inputs = aerodb_promotion::testing::caught_up_inputs(&a2, id("a-primary"), 30);
    let mut crossed = Crossed { validated: &a, target: &mut b };
    let approved = approve(&crossed, "a-primary", &inputs);
    let failure = approved.begin_transition().commit(&mut crossed).unwrap_err();
    assert!(failure.error().is_conflict(), "a conflict, nothing written: {}", failure.error());
    let message = failure.error().to_string();
    assert!(message.contains("b-replica") && message.contains("a-replica"), "says what differs: {message}");
    eprintln!("{message}");
    assert_eq!(b.load().unwrap(), Some(b2), "the other cluster's authority is untouched");
    assert_eq!(a.load().unwrap(), Some(a2));
}

/// P6-A1: a file store remembers, durably, the newest authority it ever held. A record restored
/// from a backup, another cluster's record copied over it, or a deleted record is refused by a
/// new handle too — and by the inspection reader — and a store that once held an authority
/// never bootstraps again.
#[test]
fn a_file_store_never_goes_back_across_reopens() {
    let dir = temp_dir("never-back");
    let mut store = FileAuthorityStore::open(dir.path()).unwrap();
    let first = store.bootstrap(id("primary-0")).unwrap();
    let record_path = store.record_path().to_owned();
    let backup = std::fs::read(&record_path).unwrap();
    let second = promoted(&mut store, &first, "replica-1", 10);
    drop(store);
    let highest = dir.path().join("metadata").join(HIGHEST_FILE);
    assert_eq!(std::fs::read(&highest).unwrap(), second.to_bytes().unwrap(), "the copy is the newest record");

    let elsewhere = temp_dir("never-back-other");
    let other = FileAuthorityStore::open(elsewhere.path()).unwrap().bootstrap(id("primary-9")).unwrap();
    for (what, bytes) in [
        ("a restored backup", Some(backup)),
        ("another cluster's record", Some(other.to_bytes().unwrap())),
        ("a deleted record", None),
    ] {
        match &bytes {
            Some(bytes) => std::fs::write(&record_path, bytes).unwrap(),
            None => std::fs::remove_file(&record_path).unwrap(),
        }
        let mut reopened = FileAuthorityStore::open(dir.path()).unwrap();
        let loaded = reopened.load();
        assert!(matches!(loaded, Err(StoreError::WentBack(_))), "{what}: {loaded:?}");
        assert!(matches!(recover(&reopened), Err(StoreError::WentBack(_))), "{what}");
        assert!(matches!(read_record(dir.path()), Err(StoreError::WentBack(_))), "{what}: inspection too");
        let again = reopened.bootstrap(id("primary-7"));
        assert!(matches!(again, Err(StoreError::WentBack(_))), "{what}: no bootstrap: {again:?}");
        assert_eq!(
            std::fs::read(&highest).unwrap(),
            second.to_bytes().unwrap(),
            "{what}: the copy is untouched"
        );
    }
    // The newest record put back: the store is whole again.
    std::fs::write(&record_path, second.to_bytes().unwrap()).unwrap();
    let reopened = FileAuthorityStore::open(dir.path()).unwrap();
    assert_eq!(recover(&reopened).unwrap().authority, Some(second));
}

/// A commit killed between its commit point and its high-water copy: the next open brings the
/// copy up from the record, so the record counts from then on.
#[test]
fn an_open_brings_a_lagging_high_water_copy_up() {
    let dir = temp_dir("lagging-copy");
    let first = FileAuthorityStore::open(dir.path()).unwrap().bootstrap(id("primary-0")).unwrap();
    let highest = dir.path().join("metadata").join(HIGHEST_FILE);
    std::fs::remove_file(&highest).unwrap();
    std::fs::write(dir.path().join("metadata").join(HIGHEST_TEMP_FILE), b"torn").unwrap();
    let store = FileAuthorityStore::open(dir.path()).unwrap();
    assert!(!dir.path().join("metadata").join(HIGHEST_TEMP_FILE).exists(), "the torn copy is removed");
    assert_eq!(std::fs::read(&highest).unwrap(), first.to_bytes().unwrap());
    assert_eq!(store.load().unwrap(), Some(first));
}

/// After a real loss the operator starts over explicitly, above every epoch that ever was: a
/// reason is required, an epoch at or below what the store held is refused, and the new
/// authority is durable, recorded with its reason, and moves the high-water copy up.
#[test]
fn starting_over_is_explicit_and_above_everything_that_was() {
    use aerodb_core::{Epoch, Lsn};
    let dir = temp_dir("start-over");
    let mut store = FileAuthorityStore::open(dir.path()).unwrap();
    let first = store.bootstrap(id("primary-0")).unwrap();
    promoted(&mut store, &first, "replica-1", 10);
    drop(store);
    std::fs::remove_file(dir.path().join("metadata").join(RECORD_FILE)).unwrap();
    let mut store = FileAuthorityStore::open(dir.path()).unwrap();
    assert!(matches!(store.load(), Err(StoreError::WentBack(_))));
    let lost = "record deleted; nodes report at most epoch 4";
    for (above, reason) in [(Epoch::new(1), lost), (Epoch::new(4), " "), (Epoch::MAX, lost)] {
        let refused = store.start_over(id("replica-1"), above, Lsn::new(500), reason);
        assert!(matches!(refused, Err(StoreError::StartOver(_))), "{above} {reason:?}: {refused:?}");
    }
    assert!(!dir.path().join("metadata").join(RECORD_FILE).exists(), "a refusal writes nothing");
    // Exactly the highest epoch the store held is enough: the new one is above it.
    let record = store.start_over(id("replica-1"), Epoch::new(2), Lsn::new(500), lost).unwrap();
    assert_eq!(
        (record.epoch(), record.primary(), record.previous_primary()),
        (Epoch::new(3), id("replica-1"), None)
    );
    assert_eq!(record.request().unwrap().reason.as_deref(), Some(lost));
    assert_eq!(record.epoch_history().entries().len(), 1);
    assert_eq!(store.load().unwrap(), Some(record.clone()));
    drop(store);
    let reopened = FileAuthorityStore::open(dir.path()).unwrap();
    let recovered = recover(&reopened).unwrap();
    assert_eq!(recovered.authority, Some(record.clone()));
    assert!(recovered.grant.is_some());
    let highest = std::fs::read(dir.path().join("metadata").join(HIGHEST_FILE)).unwrap();
    assert_eq!(highest, record.to_bytes().unwrap(), "the copy moved up with it");
}
