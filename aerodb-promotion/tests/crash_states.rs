//! Crash consistency (stage 6.7): every on-disk state the POSIX persistence model allows after a
//! crash at every point of a commit, recovered by the real store; the harness is shown to catch
//! broken protocols; and the spec's crash rows (§2), one test per promotion boundary.
//! Figures: `cargo test -p aerodb-promotion --test crash_states -- --nocapture`.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

use aerodb_core::Epoch;
use aerodb_promotion::file_store::{DIR_MODE, FILE_MODE};
use aerodb_promotion::testing::caught_up_inputs;
use aerodb_promotion::*;
use common::simfs::{DiskState, Model, Node, SimFs, crash_states};
use common::*;

/// What recovery made of one crash state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Found {
    None,
    Old,
    New,
}

struct Exploration {
    points: usize,
    states: usize,
    distinct: usize,
    violations: Vec<String>,
}

/// The data directory of the explorations that open an existing one.
const DATA_DIR: &str = "/sim";

/// Writes `state` under a fresh directory standing for `/`, as the store creates files and
/// directories whatever this process's umask, and runs the real open + recover on `data_dir`
/// there (which the open creates again if the crash lost it).
fn recover_state(
    state: &DiskState,
    data_dir: &str,
    old: Option<&AuthorityRecord>,
    new: &AuthorityRecord,
) -> Result<Found, String> {
    let root = temp_dir("crash-state");
    let real = |path: &str| root.path().join(path.trim_start_matches('/'));
    for (path, node) in state {
        let (path, mode) = match node {
            Node::Dir => {
                std::fs::create_dir(real(path)).unwrap();
                (real(path), DIR_MODE)
            }
            Node::File(data) => {
                std::fs::write(real(path), data).unwrap();
                (real(path), FILE_MODE)
            }
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let data_dir = real(data_dir);
    let store = FileAuthorityStore::open(&data_dir).map_err(|e| format!("open failed: {e}"))?;
    let found = match recover(&store).map_err(|e| format!("recovery failed: {e}"))?.authority {
        None => Found::None,
        Some(r) if Some(&r) == old => Found::Old,
        Some(r) if &r == new => Found::New,
        Some(r) => return Err(format!("a third state: {r:?}")),
    };
    if data_dir.join("metadata/authority.record.tmp").exists() {
        return Err("leftover temporary file survived recovery".to_owned());
    }
    Ok(found)
}

/// Recovers every crash state at every point of `snapshots`, the last taken when the write of
/// `new` returned: before that, `old` (or none, when `old` is `None`) or new is acceptable;
/// after it, only new.
fn enumerate(
    snapshots: &[(String, Model)],
    data_dir: &str,
    old: Option<&AuthorityRecord>,
    new: &AuthorityRecord,
) -> Exploration {
    let last = snapshots.len() - 1;
    let mut exploration =
        Exploration { points: snapshots.len(), states: 0, distinct: 0, violations: Vec::new() };
    let mut all = BTreeSet::new();
    for (point, (op, model)) in snapshots.iter().enumerate() {
        let allowed: &[Found] = match (point == last, old.is_some()) {
            (true, _) => &[Found::New],
            (false, true) => &[Found::Old, Found::New],
            (false, false) => &[Found::None, Found::New],
        };
        for state in crash_states(model) {
            exploration.states += 1;
            match recover_state(&state, data_dir, old, new) {
                Ok(found) if allowed.contains(&found) => {}
                Ok(found) => {
                    exploration.violations.push(format!("after {op} (point {point}): recovered {found:?}"))
                }
                Err(error) => exploration.violations.push(format!("after {op} (point {point}): {error}")),
            }
            all.insert(state);
        }
    }
    exploration.distinct = all.len();
    exploration
}

/// Runs one commit on the model — the first write (bootstrap) or a promotion over epoch 1 —
/// and recovers every crash state at every point. Before the commit returns, old (or none,
/// when nothing was durable yet) and new are both acceptable; after it returns, only new.
fn explore(first_write: bool, skip_file_sync: bool, skip_dir_sync: bool) -> Exploration {
    let mut store = FileAuthorityStore::open_with(SimFs::default(), DATA_DIR).unwrap();
    let old = if first_write { None } else { Some(store.bootstrap(id("primary-0")).unwrap()) };
    store.backend().skip_file_sync.set(skip_file_sync);
    store.backend().skip_dir_sync.set(skip_dir_sync);
    store.backend().start_recording();
    let new = match &old {
        None => store.bootstrap(id("primary-0")).unwrap(),
        Some(old) => {
            let inputs = caught_up_inputs(old, id("replica-1"), 64);
            let approved = approve(&store, "replica-1", &inputs);
            let succeeded = approved.begin_transition().commit(&mut store).unwrap();
            succeeded.complete().1.record().clone()
        }
    };
    enumerate(&store.backend().snapshots(), DATA_DIR, old.as_ref(), &new)
}

#[test]
fn every_crash_state_of_a_promotion_commit_recovers_old_or_new() {
    let e = explore(false, false, false);
    assert!(e.violations.is_empty(), "{:#?}", e.violations);
    assert!(e.distinct >= 6, "too few states explored: {}", e.distinct);
    eprintln!(
        "crash states, promotion commit: {} points, {} states checked, {} distinct disk states, 0 violations",
        e.points, e.states, e.distinct
    );
}

#[test]
fn every_crash_state_of_the_first_write_recovers_none_or_new() {
    let e = explore(true, false, false);
    assert!(e.violations.is_empty(), "{:#?}", e.violations);
    eprintln!(
        "crash states, first write: {} points, {} states checked, {} distinct disk states, 0 violations",
        e.points, e.states, e.distinct
    );
}

/// The harness can fail: without the file fsync, a renamed record may be empty or half-written.
#[test]
fn the_enumeration_catches_a_protocol_without_file_fsync() {
    let e = explore(false, true, false);
    // The open reads the record (to bring the high-water copy up), so a torn record fails it.
    assert!(
        e.violations.iter().any(|v| v.contains("failed") && v.contains("is invalid")),
        "expected corrupt records to be found: {:#?}",
        e.violations
    );
    eprintln!("broken protocol (no file fsync): {} violations found", e.violations.len());
}

/// The harness can fail: reporting success before the directory fsync can lose the promotion.
#[test]
fn the_enumeration_catches_success_before_directory_fsync() {
    let e = explore(false, false, true);
    assert!(
        e.violations.iter().any(|v| v.contains("recovered Old")),
        "expected an acknowledged promotion to be lost: {:#?}",
        e.violations
    );
    eprintln!("broken protocol (no directory fsync): {} violations found", e.violations.len());
}

/// A data directory two levels below the deepest that exists (`/`): the open creates `/data`,
/// the data directory and its `metadata/`.
const NEW_DATA_DIR: &str = "/data/aerodb";

/// Opens a store on a path that does not exist, bootstraps it, and recovers every crash state
/// at every point from the first `mkdir` on: before bootstrap returns, none or new; after it,
/// only new. `fsync_only_the_data_directory` is the broken-protocol control: fsyncs of the
/// data directory's parents do nothing (the open before issue 23 never made them).
fn explore_bootstrap_into_a_new_directory(fsync_only_the_data_directory: bool) -> Exploration {
    let sim = SimFs::default();
    if fsync_only_the_data_directory {
        *sim.skip_dir_sync_outside.borrow_mut() = Some(NEW_DATA_DIR.to_owned());
    }
    sim.start_recording();
    let mut store = FileAuthorityStore::open_with(sim.clone(), NEW_DATA_DIR).unwrap();
    assert!(store.open_report().created_metadata);
    let new = store.bootstrap(id("primary-0")).unwrap();
    enumerate(&sim.snapshots(), NEW_DATA_DIR, None, &new)
}

/// P6-F2: a bootstrap into a directory the open created survives a power loss. The open fsyncs
/// the parent of every directory it created, up to the first that existed, so once bootstrap
/// returns no crash state loses the directory (and with it the authority: a second bootstrap
/// could then name another primary at epoch 1).
#[test]
fn every_crash_state_of_a_bootstrap_into_a_new_directory_recovers_none_or_new() {
    let e = explore_bootstrap_into_a_new_directory(false);
    assert!(e.violations.is_empty(), "{:#?}", e.violations);
    eprintln!(
        "crash states, bootstrap into a new directory: {} points, {} states checked, {} distinct disk states, 0 violations",
        e.points, e.states, e.distinct
    );
}

/// The harness can fail: an open that fsyncs only `metadata/` and the data directory (the
/// open before issue 23) lets a power loss after a successful bootstrap take the whole
/// directory away, so recovery finds no authority.
#[test]
fn the_enumeration_catches_an_open_that_never_fsyncs_the_parents_it_created_in() {
    let e = explore_bootstrap_into_a_new_directory(true);
    assert!(
        e.violations.iter().any(|v| v.contains("recovered None")),
        "expected the bootstrapped authority to be lost: {:#?}",
        e.violations
    );
    eprintln!(
        "broken protocol (new directory, parents not fsynced): {} violations found",
        e.violations.len()
    );
}

/// The disk after: a commit killed right after its rename (before its directory fsync), then a
/// successor process that opens the store and reads the new epoch. Returns what that successor
/// read and what a power loss at that moment could bring back.
fn killed_after_rename_then_reopened(open_skips_dir_sync: bool) -> (Epoch, Vec<String>) {
    let sim = SimFs::default();
    let mut store = FileAuthorityStore::open_with(sim.clone(), DATA_DIR).unwrap();
    let old = store.bootstrap(id("primary-0")).unwrap();
    let inputs = caught_up_inputs(&old, id("replica-1"), 64);
    let approved = approve(&store, "replica-1", &inputs);
    sim.die_after_rename.set(true);
    let failure = approved.begin_transition().commit(&mut store).unwrap_err();
    // The controller is gone; the machine's page cache is not.
    drop((failure, store));
    sim.revive();
    // A broken-protocol control: an open that reads without making the directory durable.
    sim.skip_dir_sync.set(open_skips_dir_sync);
    let successor = FileAuthorityStore::open_with(sim.clone(), DATA_DIR).unwrap();
    let new = recover(&successor).unwrap().authority.unwrap();
    let violations = crash_states(&sim.current())
        .iter()
        .filter_map(|state| match recover_state(state, DATA_DIR, Some(&old), &new) {
            Ok(Found::New) => None,
            other => Some(format!("power loss after the successor read epoch {}: {other:?}", new.epoch())),
        })
        .collect();
    (new.epoch(), violations)
}

/// P6-F2: a successor that read the new epoch keeps it through a power loss, because opening
/// makes what it reads durable first. (Before, open fsynced the directory only when it removed
/// a leftover, and none is left after a rename.)
#[test]
fn a_power_loss_after_a_killed_commit_and_a_reopen_keeps_what_was_read() {
    let (read, violations) = killed_after_rename_then_reopened(false);
    assert_eq!(read, Epoch::new(2), "the successor reads the renamed record");
    assert!(violations.is_empty(), "{violations:#?}");
}

/// The harness can fail: an open that does not fsync the directory (today's open before the
/// fix) lets a power loss bring back the epoch the successor already acted past.
#[test]
fn the_enumeration_catches_an_open_that_reads_before_it_syncs() {
    let (read, violations) = killed_after_rename_then_reopened(true);
    assert_eq!(read, Epoch::new(2));
    assert!(
        violations.iter().any(|v| v.contains("Old")),
        "expected the old epoch to come back: {violations:#?}"
    );
    eprintln!("broken protocol (open without directory fsync): {} violations found", violations.len());
}

/// P6-F2: after a failed directory fsync the failed handle retries nothing, and recovery on a
/// fresh handle says `Applied` only once the rename is durable: the fresh open makes it so, or
/// fails with a typed error and decides nothing.
#[test]
fn a_failed_directory_fsync_is_applied_only_once_a_fresh_open_made_it_durable() {
    for fresh_open_fails in [false, true] {
        let sim = SimFs::default();
        let mut store = FileAuthorityStore::open_with(sim.clone(), DATA_DIR).unwrap();
        let old = store.bootstrap(id("primary-0")).unwrap();
        let inputs = caught_up_inputs(&old, id("replica-1"), 64);
        let approved = approve(&store, "replica-1", &inputs);
        sim.fail_dir_syncs.set(if fresh_open_fails { 2 } else { 1 });
        let failure = approved.begin_transition().commit(&mut store).unwrap_err();
        assert!(matches!(failure.error(), CommitError::Store(StoreError::Io { step: IoStep::SyncDir, .. })));
        assert!(matches!(store.load(), Err(StoreError::Poisoned(_))), "the failed handle refuses all use");
        drop(store);
        if fresh_open_fails {
            let refused = FileAuthorityStore::open_with(sim.clone(), DATA_DIR);
            assert!(
                matches!(refused, Err(StoreError::Io { step: IoStep::SyncDir, .. })),
                "an open that cannot make the record durable fails, typed: {:?}",
                refused.err()
            );
        }
        let fresh = FileAuthorityStore::open_with(sim.clone(), DATA_DIR).unwrap();
        let (recovered, resolution) = failure.recover(&fresh).unwrap();
        assert_eq!(resolution, Resolution::Applied);
        let new = recovered.authority.unwrap();
        for state in crash_states(&sim.current()) {
            assert_eq!(
                recover_state(&state, DATA_DIR, Some(&old), &new),
                Ok(Found::New),
                "Applied must be durable"
            );
        }
    }
}

// The spec's crash rows (§2): a controller crash in each state, then recovery from disk.

/// A data directory at epoch 1 and inputs that approve `replica-1`.
fn cluster(tag: &str) -> (TempDir, FileAuthorityStore, ValidationInputs, AuthorityRecord) {
    let dir = temp_dir(tag);
    let mut store = FileAuthorityStore::open(dir.path()).unwrap();
    let record = store.bootstrap(id("primary-0")).unwrap();
    let inputs = caught_up_inputs(&record, id("replica-1"), 64);
    (dir, store, inputs, record)
}

/// The crash: everything in memory is gone; a new process opens the directory.
fn restart(dir: &TempDir, store: FileAuthorityStore) -> (FileAuthorityStore, Recovered) {
    drop(store);
    let store = FileAuthorityStore::open(dir.path()).unwrap();
    let recovered = recover(&store).unwrap();
    assert_eq!(recovered.steady.kind(), StateKind::Steady, "every restart begins in Steady");
    assert!(!store.slot().is_busy());
    (store, recovered)
}

#[test]
fn crash_row_before_validation_forgets_the_promotion() {
    let (dir, store, _, record) = cluster("row-requested");
    let requested = recover(&store).unwrap().steady.request(request("replica-1"));
    drop(requested);
    let (_, recovered) = restart(&dir, store);
    assert_eq!(recovered.authority, Some(record));
}

#[test]
fn crash_row_during_validation_forgets_the_promotion() {
    let (dir, store, inputs, record) = cluster("row-validating");
    let validating = recover(&store)
        .unwrap()
        .steady
        .request(request("replica-1"))
        .begin_validation(PromotionPolicy::Enabled, &inputs)
        .unwrap();
    drop(validating);
    let (_, recovered) = restart(&dir, store);
    assert_eq!(recovered.authority, Some(record));
}

#[test]
fn crash_row_after_approval_forgets_the_promotion_and_requires_revalidation() {
    let (dir, store, inputs, record) = cluster("row-approved");
    let approved = approve(&store, "replica-1", &inputs);
    drop(approved);
    let (_, recovered) = restart(&dir, store);
    assert_eq!(recovered.authority, Some(record.clone()));
    // The approval had no durable effect: after more writes are acknowledged, the same candidate is denied.
    let later = inputs.with_acknowledged(pos(1, 65));
    let validating = recovered
        .steady
        .request(request("replica-1"))
        .begin_validation(PromotionPolicy::Enabled, &later)
        .unwrap();
    assert!(matches!(validating.decide(&later), Decision::Denied(_)));
}

#[test]
fn crash_row_during_the_switch_every_durable_step_is_old_or_new() {
    let e = explore(false, false, false);
    assert!(e.violations.is_empty(), "{:#?}", e.violations);
    assert_eq!(
        e.points, 11,
        "start, then create temp, write, fsync file, rename, fsync dir for the record (the rename is \
         the commit point) and again for its high-water copy (reads change no disk state)"
    );
}

#[test]
fn crash_row_after_the_switch_keeps_the_new_authority() {
    let (dir, mut store, inputs, _) = cluster("row-succeeded");
    let approved = approve(&store, "replica-1", &inputs);
    let succeeded = approved.begin_transition().commit(&mut store).unwrap();
    let committed = succeeded.committed().record().clone();
    drop(succeeded);
    let (_, recovered) = restart(&dir, store);
    assert_eq!(recovered.authority, Some(committed));
}

#[test]
fn recovery_is_deterministic_from_every_state() {
    let (dir, store, _, record) = cluster("row-determinism");
    let (store, first) = restart(&dir, store);
    let (_, second) = restart(&dir, store);
    assert_eq!(first.authority, second.authority);
    assert_eq!(first.authority, Some(record));
}

/// A commit costs two fsyncs up to its commit point (the temporary file, then the directory)
/// and two more for the high-water copy after it.
#[test]
fn a_commit_performs_two_fsyncs_to_its_commit_point_and_two_for_its_high_water_copy() {
    let mut store = FileAuthorityStore::open_with(SimFs::default(), DATA_DIR).unwrap();
    let old = store.bootstrap(id("primary-0")).unwrap();
    store.backend().start_recording();
    let inputs = caught_up_inputs(&old, id("replica-1"), 64);
    let approved = approve(&store, "replica-1", &inputs);
    let _ = approved.begin_transition().commit(&mut store).unwrap().complete();
    let ops: Vec<String> = store.backend().snapshots().into_iter().skip(1).map(|(op, _)| op).collect();
    let replace = ["create", "write", "fsync file", "rename", "fsync dir"];
    assert_eq!(ops, [replace, replace].concat());
    assert_eq!(ops.iter().filter(|op| op.starts_with("fsync")).count(), 4);
}
