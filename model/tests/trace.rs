//! Trace validation of real library runs on the file store, replayed through the model, which
//! must allow every step; a doctored log must be refused at the step that was changed.
//!
//! - A scripted run: a promotion, a denied attempt, a controller crash with recovery, a second
//!   promotion.
//! - A faulted run through the store's I/O seam (`aerodb-promotion/tests/common/faulty.rs`): a
//!   commit failing before its rename (outcome unknown; the reopen removes its leftover and
//!   recovers the old record), one failing at its commit point's directory fsync (unknown to
//!   the controller, applied all the same), and one failing after the commit point (it stands).

mod common;
#[allow(dead_code)] // the seam's other plans serve aerodb-promotion's own fault tests
#[path = "../../aerodb-promotion/tests/common/faulty.rs"]
mod faulty;

use aerodb_core::NodeId;
use aerodb_model::trace::{Event, Forbidden, Step, steps_of, validate};
use aerodb_model::{Config, ProtocolModel};
use aerodb_promotion::file_store::{METADATA_DIR, TEMP_FILE};
use aerodb_promotion::{AuthorityStore, FileAuthorityStore, recover};
use common::{Commit, Recorder, Result, approve, commit, promote};
use faulty::{FaultKind, Faulty, Plan};

/// A configuration wide enough for the logged runs: no client writes, a node crash for each
/// promotion (its old primary must be down), a controller fault for each lost answer.
const TRACED: Config = Config {
    controllers: 2,
    nodes: 3,
    max_epoch: 6,
    max_writes: 0,
    node_crashes: 5,
    controller_crashes: 2,
    message_loss: true,
    mutant: None,
    blocked_reads_as_fenced: false,
};

/// How many environment steps may separate two logged steps.
const DEPTH: usize = 2;

/// The scripted run: bootstrap n0; promote n1; a denied attempt (unknown acknowledged
/// position: the approval is dropped unsent); the controller crashes (its handle dropped) and
/// recovers from the file store; promote n2.
fn scripted() -> Result<Vec<Event>> {
    let dir = tempfile::Builder::new().prefix("aerodb-model-trace-").tempdir()?;
    let mut log = Recorder::default();
    log.as_ctl(0, || -> Result<()> {
        let mut store = FileAuthorityStore::open(dir.path())?;
        store.bootstrap(NodeId::new("n0")?)?;
        assert_eq!(promote(&mut store, "n1")?, Commit::Made(2));
        // Read and approved, then abandoned before its commit was sent.
        drop(approve(&store, "n2")?);
        drop(store);
        let mut store = FileAuthorityStore::open(dir.path())?;
        assert_eq!(promote(&mut store, "n2")?, Commit::Made(3));
        Ok(())
    })?;
    Ok(log.events)
}

/// Opens `dir` through the fault seam, unarmed.
fn open(dir: &std::path::Path) -> Result<FileAuthorityStore<Faulty>> {
    Ok(FileAuthorityStore::open_with(Faulty::default(), dir)?)
}

/// A commit of `candidate` with a fault at operation `at` of the commit.
fn faulted_commit(store: &mut FileAuthorityStore<Faulty>, candidate: &str, at: usize) -> Result<Commit> {
    let (_, approved) = approve(&*store, candidate)?;
    let transitioning = approved.begin_transition();
    store.backend().arm(Plan { at, persistent: false, kind: FaultKind::Eio });
    Ok(commit(store, transitioning))
}

/// The commit's operation that renames the temporary file into place, and the commit point's
/// directory fsync after it (`aerodb-promotion/tests/faults.rs`: 6 operations up to it: one
/// read, create, write, fsync, rename, directory fsync).
const RENAME: usize = 4;
const COMMIT_POINT_SYNC: usize = 5;

/// The faulted run, one controller crashing and restarting (its handle dropped, a new one
/// opened) after each fault.
fn faulted() -> Result<Vec<Event>> {
    let dir = tempfile::Builder::new().prefix("aerodb-model-trace-").tempdir()?;
    let path = dir.path();
    let epoch = |store: &FileAuthorityStore<Faulty>| -> Result<u64> {
        Ok(recover(store)?.authority.ok_or("no authority")?.epoch().get())
    };
    let mut log = Recorder::default();
    log.as_ctl(0, || -> Result<()> {
        let mut store = open(path)?;
        store.bootstrap(NodeId::new("n0")?)?;
        assert_eq!(promote(&mut store, "n1")?, Commit::Made(2));
        // Before the rename: the temporary file is left behind, the record is the old one.
        assert_eq!(faulted_commit(&mut store, "n2", RENAME)?, Commit::Unknown);
        assert!(path.join(METADATA_DIR).join(TEMP_FILE).exists(), "a leftover for the reopen");
        drop(store);
        let mut store = open(path)?;
        assert_eq!(epoch(&store)?, 2, "the interrupted commit never applied");
        // At the commit point's fsync: reported failed, yet the rename made it durable.
        assert_eq!(faulted_commit(&mut store, "n2", COMMIT_POINT_SYNC)?, Commit::Unknown);
        drop(store);
        let mut store = open(path)?;
        assert_eq!(epoch(&store)?, 3, "the unanswered commit applied");
        // After the commit point: it stands; the handle is poisoned.
        assert_eq!(faulted_commit(&mut store, "n0", COMMIT_POINT_SYNC + 1)?, Commit::Made(4));
        drop(store);
        let mut store = open(path)?;
        assert_eq!(promote(&mut store, "n1")?, Commit::Made(5));
        Ok(())
    })?;
    Ok(log.events)
}

fn replay(steps: &[Step]) -> std::result::Result<usize, Forbidden> {
    validate(&ProtocolModel::new(TRACED), steps, DEPTH)
}

#[test]
fn the_real_event_log_is_a_path_of_the_model() -> Result<()> {
    let events = scripted()?;
    let steps = steps_of(&events)?;
    let expected = [
        Step::Started { ctl: 0, candidate: 1, new_epoch: 2 },
        Step::Committed { ctl: 0, epoch: 2, primary: 1 },
        Step::Started { ctl: 0, candidate: 2, new_epoch: 3 },
        Step::Committed { ctl: 0, epoch: 3, primary: 2 },
    ];
    assert_eq!(steps, expected);
    let states = replay(&steps).map_err(|f| format!("{f:?}"))?;
    println!("scripted run: {} events, {} steps, {states} states at the end", events.len(), steps.len());
    Ok(())
}

#[test]
fn a_doctored_log_is_refused_at_the_doctored_step() -> Result<()> {
    // The second commit claims epoch 2 again: the store holds epoch 2, so no commit can.
    let mut twice = steps_of(&scripted()?)?;
    twice[3] = Step::Committed { ctl: 0, epoch: 2, primary: 2 };
    assert_eq!(replay(&twice), Err(Forbidden { index: 3, step: twice[3].clone() }));
    // The first commit names a node no controller was asked to promote.
    let mut other = steps_of(&scripted()?)?;
    other[1] = Step::Committed { ctl: 0, epoch: 2, primary: 0 };
    assert_eq!(replay(&other), Err(Forbidden { index: 1, step: other[1].clone() }));
    // A commit no approved attempt sent.
    let unsent = [Step::Committed { ctl: 0, epoch: 2, primary: 1 }];
    assert_eq!(replay(&unsent), Err(Forbidden { index: 0, step: unsent[0].clone() }));
    Ok(())
}

/// The faulted run's steps: each fault is an unknown outcome (`aborted_on_crash` with the
/// request); the reopen after the first reports the leftover it removed.
const FAULTED: [Step; 11] = [
    Step::Started { ctl: 0, candidate: 1, new_epoch: 2 },
    Step::Committed { ctl: 0, epoch: 2, primary: 1 },
    Step::Started { ctl: 0, candidate: 2, new_epoch: 3 },
    Step::Aborted { ctl: 0 },
    Step::Recovered { ctl: 0 },
    Step::Started { ctl: 0, candidate: 2, new_epoch: 3 },
    Step::Aborted { ctl: 0 },
    Step::Started { ctl: 0, candidate: 0, new_epoch: 4 },
    Step::Committed { ctl: 0, epoch: 4, primary: 0 },
    Step::Started { ctl: 0, candidate: 1, new_epoch: 5 },
    Step::Committed { ctl: 0, epoch: 5, primary: 1 },
];

#[test]
fn a_faulted_run_is_a_path_of_the_model() -> Result<()> {
    let events = faulted()?;
    let steps = steps_of(&events)?;
    assert_eq!(steps, FAULTED, "{events:#?}");
    let states = replay(&steps).map_err(|f| format!("{f:?}"))?;
    println!("faulted run: {} events, {} steps, {states} states at the end", events.len(), steps.len());
    Ok(())
}

#[test]
fn a_doctored_faulted_run_is_refused_at_the_doctored_step() -> Result<()> {
    let steps = steps_of(&faulted()?)?;
    // The commit whose temporary file was never renamed claimed to have applied: the next
    // attempt read epoch 3, but the leftover's reopen had dropped that commit.
    let mut applied = steps.clone();
    applied[5] = Step::Started { ctl: 0, candidate: 2, new_epoch: 4 };
    assert_eq!(replay(&applied), Err(Forbidden { index: 5, step: applied[5].clone() }));
    // A leftover reported where no commit was interrupted.
    let mut leftover = steps.clone();
    leftover.insert(2, Step::Recovered { ctl: 0 });
    assert_eq!(replay(&leftover), Err(Forbidden { index: 2, step: leftover[2].clone() }));
    // A lost answer allows either fate, but the store's history must stay one: read as never
    // applied (epoch 3 made again), the run's next attempt, which read epoch 4, is refused.
    let mut lost = steps.clone();
    lost[7] = Step::Started { ctl: 0, candidate: 0, new_epoch: 3 };
    lost[8] = Step::Committed { ctl: 0, epoch: 3, primary: 0 };
    assert_eq!(replay(&lost), Err(Forbidden { index: 9, step: lost[9].clone() }));
    // An attempt that read an epoch no commit made.
    let mut skipped = steps;
    skipped[7] = Step::Started { ctl: 0, candidate: 0, new_epoch: 5 };
    assert_eq!(replay(&skipped), Err(Forbidden { index: 7, step: skipped[7].clone() }));
    Ok(())
}
