//! A conformance suite for any [`AuthorityStore`], and an in-memory store.
//!
//! Implement [`StoreHarness`] for your store and call [`Suite::run`] from a test: it checks
//! compare-and-swap, successor epochs, durability across reopen, fail-closed corruption, crash
//! leftovers and lock exclusivity (the last three where your harness supports them), and the
//! same for the primary's report kept beside the record ([`check_report`]).
//!
//! ```
//! use aerodb_promotion::testing::{MemoryHarness, Suite};
//! let report = Suite::run(&mut MemoryHarness::default());
//! assert!(report.passed.len() >= 6);
//! ```

pub mod cluster;
pub mod events;
pub mod runtime;

use aerodb_core::{Epoch, EpochHistory, Lsn, MvccBoundary, NodeId, ReplicationState, WalPosition};

use crate::ReportRefusal;
use crate::codec;
use crate::evidence::{PrimaryReport, Stopped, SyncMethod, SyncRule};
use crate::gate::WriteGate;
use crate::inputs::{NodeView, OldPrimary, ValidationInputs};
use crate::machine::Decision;
use crate::record::AuthorityRecord;
use crate::recovery::recover;
use crate::request::{PromotionPolicy, PromotionRequest};
use crate::slot::PromotionSlot;
use crate::store::{
    AuthorityStore, Location, Proposal, StoreError, check_commit, check_evidence, check_report,
};

/// How the suite creates, restarts and tampers with your store.
pub trait StoreHarness {
    /// The store under test.
    type Store: AuthorityStore;
    /// A store for a new, empty authority.
    fn fresh(&mut self) -> Self::Store;
    /// Drops `store` and opens the same authority again, as after a restart.
    fn reopen(&mut self, store: Self::Store) -> Self::Store;
    /// UNSAFE FOR A CLUSTER — replaces the durable record's bytes behind the store's back, as
    /// corruption or an operator's mistake would; `false` if unsupported. A planted record that
    /// decodes is the authority to every reader that has not seen a newer one, and `recover`
    /// grants its primary: only the conformance suite's corruption cases call this.
    fn tamper_with_record(&mut self, store: &mut Self::Store, bytes: &[u8]) -> bool;
    /// UNSAFE FOR A CLUSTER — replaces the stored primary report's bytes behind the store's
    /// back, as corruption would; `false` if unsupported. Only the suite's report corruption
    /// case calls this.
    fn tamper_with_report(&mut self, store: &mut Self::Store, bytes: &[u8]) -> bool;
    /// Leaves what a commit killed after writing its temporary file leaves; `false` if unsupported.
    fn leave_crash_leftovers(&mut self, store: &mut Self::Store) -> bool;
    /// Opens a second handle on `store`'s authority while it is open; `None` if the store
    /// does not lock (then the case is skipped).
    fn open_second(&mut self, store: &Self::Store) -> Option<Result<Self::Store, StoreError>>;
}

/// Which cases ran and which were skipped because the harness does not support them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SuiteReport {
    /// Cases that passed.
    pub passed: Vec<&'static str>,
    /// Cases the harness does not support.
    pub skipped: Vec<&'static str>,
}

/// One suite case: `false` when the harness does not support it.
type Case<H> = fn(&mut H) -> bool;

/// The store conformance suite.
#[derive(Debug)]
pub struct Suite;

fn node(name: &str) -> NodeId {
    NodeId::new(name).unwrap_or_else(|e| panic!("suite node id {name:?}: {e}"))
}

/// Inputs under which promoting `candidate` over `record`'s authority is safe: the old primary
/// is confirmed stopped and every acknowledged write, through `lsn` of the current epoch, is on
/// the candidate, which is an active replica on a commit boundary.
pub fn caught_up_inputs(record: &AuthorityRecord, candidate: NodeId, lsn: u64) -> ValidationInputs {
    let history: EpochHistory = record.epoch_history().clone();
    let position = WalPosition::new(record.epoch(), Lsn::new(lsn));
    ValidationInputs {
        authority: Some(record.view()),
        nodes: vec![NodeView {
            id: candidate,
            replication: ReplicationState::ReplicaActive,
            position,
            history: Some(history),
            mvcc: Some(MvccBoundary::at_rest(Lsn::new(lsn))),
        }],
        old_primary: OldPrimary::ConfirmedStopped,
        acknowledged: Some(position),
        report: None,
    }
}

/// UNSAFE FOR A CLUSTER — a writable gate for `primary` backed by nothing durable, for tests
/// and benchmarks of write admission only. It bootstraps a private in-memory authority that is
/// gone when this returns, so nothing stops a second call from making another node's gate
/// writable at the same epoch: two primaries. A real node's gate becomes writable only through
/// the grant of its own durable store ([`recover`], [`crate::PrimaryGrant::rebind`]).
pub fn detached_primary_gate_for_tests(primary: NodeId) -> WriteGate {
    let mut store = MemoryStore::default();
    let record = store.bootstrap(primary).unwrap_or_else(|e| panic!("bootstrap: {e}"));
    let gate = WriteGate::replica(primary, None).unwrap_or_else(|e| panic!("{e}"));
    let grant = recover(&store).ok().and_then(|r| r.grant).unwrap_or_else(|| panic!("no grant"));
    grant.rebind(ReplicationState::Uninitialized, &gate, &store).unwrap_or_else(|e| panic!("rebind: {e}"));
    debug_assert_eq!(gate.epoch(), record.epoch());
    gate
}

/// A report of `primary` at `epoch`: any one of two other nodes acknowledges every commit.
fn report_of(epoch: u64, primary: &str) -> PrimaryReport {
    let standbys = ["replica-b", "replica-c", "replica-d"].into_iter().filter(|n| *n != primary).take(2);
    let rule = SyncRule::new(SyncMethod::Any, 1, standbys.map(node).collect())
        .unwrap_or_else(|e| panic!("suite rule: {e}"));
    PrimaryReport::new(Epoch::new(epoch), node(primary))
        .with_synchronous(vec![rule])
        .unwrap_or_else(|e| panic!("suite report: {e}"))
}

/// The proposal a real promotion of `candidate` over `record` would commit.
fn successor_of(record: &AuthorityRecord, candidate: &str, lsn: u64) -> Proposal {
    let bytes = codec::encode(record).unwrap_or_else(|e| panic!("encode: {e}"));
    let mut copy = MemoryStore { bytes: Some(bytes), report: None, slot: PromotionSlot::new() };
    let next = promote(&mut copy, candidate, lsn);
    Proposal::new(Some(record.clone()), next)
}

/// Drives one approved promotion of `candidate` through the typestate API into `store`.
fn promote<St: AuthorityStore>(store: &mut St, candidate: &str, lsn: u64) -> AuthorityRecord {
    let current = match store.load() {
        Ok(Some(record)) => record,
        other => panic!("promote: expected a record, got {other:?}"),
    };
    let inputs = caught_up_inputs(&current, node(candidate), lsn);
    let request = PromotionRequest::builder(candidate).build().unwrap_or_else(|e| panic!("{e}"));
    let steady = recover(store).unwrap_or_else(|e| panic!("recover: {e}")).steady;
    let validating = steady
        .request(request)
        .begin_validation(PromotionPolicy::Enabled, &inputs)
        .unwrap_or_else(|e| panic!("screening: {e}"));
    let Decision::Approved(approved) = validating.decide(&inputs) else {
        panic!("suite inputs must approve")
    };
    let succeeded = approved.begin_transition().commit(store).unwrap_or_else(|e| panic!("commit: {e}"));
    let (_steady, committed) = succeeded.complete();
    committed.record().clone()
}

impl Suite {
    /// Runs every case against stores from `harness`; panics naming the first violated guarantee.
    pub fn run<H: StoreHarness>(harness: &mut H) -> SuiteReport {
        let mut report = SuiteReport::default();
        let cases: [(&'static str, Case<H>); 18] = [
            ("empty_store_has_no_authority", Self::empty_store_has_no_authority),
            ("bootstrap_writes_epoch_one_once", Self::bootstrap_writes_epoch_one_once),
            ("commit_is_compare_and_swap", Self::commit_is_compare_and_swap),
            ("commit_compares_the_whole_predecessor", Self::commit_compares_the_whole_predecessor),
            ("commit_requires_the_successor_epoch", Self::commit_requires_the_successor_epoch),
            ("promotions_survive_reopen", Self::promotions_survive_reopen),
            ("corruption_fails_closed", Self::corruption_fails_closed),
            ("commit_over_corruption_fails_closed", Self::commit_over_corruption_fails_closed),
            ("crash_leftovers_are_ignored_and_cleaned", Self::crash_leftovers_are_ignored_and_cleaned),
            ("second_handle_is_locked_out", Self::second_handle_is_locked_out),
            ("a_handle_never_goes_back", Self::a_handle_never_goes_back),
            ("report_is_absent_until_written", Self::report_is_absent_until_written),
            ("report_survives_reopen", Self::report_survives_reopen),
            ("report_swap_is_compare_and_swap", Self::report_swap_is_compare_and_swap),
            ("report_speaks_for_the_current_authority", Self::report_speaks_for_the_current_authority),
            ("report_stop_is_not_taken_back_piecemeal", Self::report_stop_is_not_taken_back_piecemeal),
            ("report_corruption_fails_closed", Self::report_corruption_fails_closed),
            ("commit_rests_on_the_report_it_read", Self::commit_rests_on_the_report_it_read),
        ];
        for (name, case) in cases {
            if case(harness) { report.passed.push(name) } else { report.skipped.push(name) }
        }
        report
    }

    /// P6-A1: a handle that has seen epoch e refuses an older record (a restored backup), another
    /// record at e (a replaced one), and, where the harness can delete, none at all.
    fn a_handle_never_goes_back<H: StoreHarness>(h: &mut H) -> bool {
        let mut store = h.fresh();
        let first = store.bootstrap(node("primary-a")).expect("bootstrap");
        let second = promote(&mut store, "replica-b", 10);
        let mut elsewhere = MemoryStore::default();
        elsewhere.bootstrap(node("primary-z")).expect("bootstrap elsewhere");
        let other_second = promote(&mut elsewhere, "replica-y", 10);
        for (what, planted) in
            [("an older record", &first), ("another record at the same epoch", &other_second)]
        {
            let bytes = codec::encode(planted).expect("encode");
            if !h.tamper_with_record(&mut store, &bytes) {
                return false;
            }
            let loaded = store.load();
            assert!(matches!(loaded, Err(StoreError::WentBack(_))), "{what} must be refused: {loaded:?}");
            let again = recover(&store);
            assert!(matches!(again, Err(StoreError::WentBack(_))), "{what}: recovery too: {again:?}");
            let successor = successor_of(&second, "replica-c", 20);
            assert!(store.commit(&successor).is_err(), "{what}: nothing is committed over it");
        }
        let bytes = codec::encode(&second).expect("encode");
        assert!(h.tamper_with_record(&mut store, &bytes));
        assert_eq!(store.load().expect("the seen record again").as_ref(), Some(&second));
        true
    }

    fn report_is_absent_until_written<H: StoreHarness>(h: &mut H) -> bool {
        let mut store = h.fresh();
        assert!(matches!(store.load_report(), Ok(None)), "a fresh store holds no report");
        store.bootstrap(node("primary-a")).expect("bootstrap");
        assert!(matches!(store.load_report(), Ok(None)), "a bootstrap writes no report");
        let store = h.reopen(store);
        assert!(matches!(store.load_report(), Ok(None)), "nor does a reopen");
        true
    }

    /// A report swapped in from none loads back, the same after a reopen, and is replaced by
    /// a swap that expects it.
    fn report_survives_reopen<H: StoreHarness>(h: &mut H) -> bool {
        let mut store = h.fresh();
        store.bootstrap(node("primary-a")).expect("bootstrap");
        let first = report_of(1, "primary-a");
        store.swap_report(None, &first).expect("a first report");
        assert_eq!(store.load_report().expect("load").as_ref(), Some(&first));
        let mut store = h.reopen(store);
        assert_eq!(store.load_report().expect("load after reopen").as_ref(), Some(&first));
        let asked = first.clone().with_stop_requested();
        store.swap_report(Some(&first), &asked).expect("a swap expecting the stored report");
        let store = h.reopen(store);
        assert_eq!(store.load_report().expect("load after reopen").as_ref(), Some(&asked));
        true
    }

    /// P6-A1: a swap whose `expected` is not the stored report is refused
    /// ([`ReportRefusal::Changed`]) and writes nothing.
    fn report_swap_is_compare_and_swap<H: StoreHarness>(h: &mut H) -> bool {
        let mut store = h.fresh();
        store.bootstrap(node("primary-a")).expect("bootstrap");
        let first = report_of(1, "primary-a");
        store.swap_report(None, &first).expect("a first report");
        let asked = first.clone().with_stop_requested();
        let other = report_of(1, "primary-a").with_stop_requested();
        for stale in [None, Some(&other), Some(&asked)] {
            let result = store.swap_report(stale, &asked);
            assert!(
                matches!(result, Err(StoreError::Report(ReportRefusal::Changed))),
                "a swap expecting {stale:?} must be refused: {result:?}"
            );
            assert_eq!(store.load_report().expect("load").as_ref(), Some(&first), "a refusal writes nothing");
        }
        true
    }

    /// P6-A1: only the current authority's primary at its epoch has a report written; after a
    /// promotion the old primary's report can no longer be rewritten, and the new primary's
    /// replaces it.
    fn report_speaks_for_the_current_authority<H: StoreHarness>(h: &mut H) -> bool {
        let mut store = h.fresh();
        let not_current = |store: &mut H::Store, expected: Option<&PrimaryReport>, report: &PrimaryReport| {
            let result = store.swap_report(expected, report);
            assert!(
                matches!(result, Err(StoreError::Report(ReportRefusal::NotCurrent { .. }))),
                "a report for {} at epoch {} must be refused: {result:?}",
                report.primary(),
                report.epoch()
            );
        };
        let first = report_of(1, "primary-a");
        not_current(&mut store, None, &first);
        assert!(matches!(store.load_report(), Ok(None)), "no authority, no report");
        store.bootstrap(node("primary-a")).expect("bootstrap");
        not_current(&mut store, None, &report_of(1, "replica-b"));
        not_current(&mut store, None, &report_of(2, "primary-a"));
        assert!(matches!(store.load_report(), Ok(None)), "a refusal writes nothing");
        store.swap_report(None, &first).expect("the current primary's report");
        promote(&mut store, "replica-b", 10);
        not_current(&mut store, Some(&first), &first.clone().with_stop_requested());
        assert_eq!(store.load_report().expect("load").as_ref(), Some(&first), "a refusal writes nothing");
        let second = report_of(2, "replica-b");
        store.swap_report(Some(&first), &second).expect("the new primary's report replaces the old");
        assert_eq!(store.load_report().expect("load").as_ref(), Some(&second));
        true
    }

    /// P6-A1 ([`check_evidence`]): a promotion approved on the primary's stop statement commits
    /// only while the store holds exactly the report it read; resumed in between, the commit
    /// is refused as a conflict and nothing is written. Unchanged, it applies.
    fn commit_rests_on_the_report_it_read<H: StoreHarness>(h: &mut H) -> bool {
        for resumed in [true, false] {
            let mut store = h.fresh();
            let record = store.bootstrap(node("primary-a")).expect("bootstrap");
            let stated = report_of(1, "primary-a").with_stop_requested().with_stopped(Stopped {
                checkpoint: WalPosition::new(Epoch::new(1), Lsn::new(30)),
                clean: false,
            });
            store.swap_report(None, &stated).expect("the stop statement");
            let mut inputs = caught_up_inputs(&record, node("replica-b"), 40).with_report(stated.clone());
            inputs.old_primary = OldPrimary::Unknown;
            let request = PromotionRequest::builder("replica-b").build().expect("request");
            let steady = recover(&store).expect("recover").steady;
            let validating = steady
                .request(request)
                .begin_validation(PromotionPolicy::Enabled, &inputs)
                .expect("screening");
            let Decision::Approved(approved) = validating.decide(&inputs) else {
                panic!("approvable on the stop statement only")
            };
            if resumed {
                let open = PrimaryReport::new(Epoch::new(1), node("primary-a"));
                store.swap_report(Some(&stated), &open).expect("a resume");
                let failure = approved.begin_transition().commit(&mut store).expect_err("stale evidence");
                assert!(
                    matches!(failure.error(), crate::CommitError::EvidenceChanged),
                    "a commit on a withdrawn statement: {}",
                    failure.error()
                );
                assert_eq!(store.load().expect("load"), Some(record.clone()), "nothing written");
            } else {
                let succeeded = approved.begin_transition().commit(&mut store).expect("unchanged evidence");
                let (_steady, committed) = succeeded.complete();
                assert_eq!(committed.record().epoch(), Epoch::new(2));
            }
        }
        true
    }

    /// A stop statement, once written, is never changed within its epoch, and neither a stop
    /// request nor a stop statement is withdrawn without the other
    /// ([`ReportRefusal::StopTakenBack`]); the next epoch's report starts afresh. (Whether a
    /// resume may withdraw both together is `check_report`'s to say; this case does not ask.)
    fn report_stop_is_not_taken_back_piecemeal<H: StoreHarness>(h: &mut H) -> bool {
        let mut store = h.fresh();
        store.bootstrap(node("primary-a")).expect("bootstrap");
        let taken_back = |store: &mut H::Store, expected: &PrimaryReport, report: &PrimaryReport| {
            let result = store.swap_report(Some(expected), report);
            assert!(
                matches!(result, Err(StoreError::Report(ReportRefusal::StopTakenBack))),
                "{report:?} over {expected:?} must be refused: {result:?}"
            );
            assert_eq!(
                store.load_report().expect("load").as_ref(),
                Some(expected),
                "a refusal writes nothing"
            );
        };
        let plain = report_of(1, "primary-a");
        let asked = plain.clone().with_stop_requested();
        store.swap_report(None, &asked).expect("a stop request");
        store.swap_report(Some(&asked), &asked).expect("the same request again");
        let stop =
            |lsn, clean| Stopped { checkpoint: WalPosition::new(Epoch::INITIAL, Lsn::new(lsn)), clean };
        let stopped = asked.clone().with_stopped(stop(30, true));
        store.swap_report(Some(&asked), &stopped).expect("a stop statement");
        taken_back(&mut store, &stopped, &asked);
        taken_back(&mut store, &stopped, &plain.clone().with_stopped(stop(30, true)));
        taken_back(&mut store, &stopped, &asked.clone().with_stopped(stop(31, true)));
        taken_back(&mut store, &stopped, &asked.clone().with_stopped(stop(30, false)));
        store.swap_report(Some(&stopped), &stopped).expect("the same statement again");
        promote(&mut store, "replica-b", 30);
        let next = report_of(2, "replica-b");
        store.swap_report(Some(&stopped), &next).expect("the next epoch starts afresh");
        assert_eq!(store.load_report().expect("load").as_ref(), Some(&next));
        true
    }

    /// P6-F1: report bytes that fail any check — a flipped bit, a truncation, nothing, a record's
    /// frame, garbage — are [`StoreError::Corrupt`], never "no report", and nothing is swapped
    /// over them.
    fn report_corruption_fails_closed<H: StoreHarness>(h: &mut H) -> bool {
        let mut store = h.fresh();
        let record = store.bootstrap(node("primary-a")).expect("bootstrap");
        let report = report_of(1, "primary-a");
        store.swap_report(None, &report).expect("a first report");
        let good = codec::encode_report(&report).expect("encode");
        let mut flipped = good.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x01;
        let record_frame = codec::encode(&record).expect("encode");
        for bytes in [&flipped[..], &good[..good.len() - 1], &[][..], &record_frame[..], b"not a report"] {
            if !h.tamper_with_report(&mut store, bytes) {
                return false;
            }
            let loaded = store.load_report();
            assert!(
                matches!(loaded, Err(StoreError::Corrupt { .. })),
                "corrupt bytes must not load: {loaded:?}"
            );
            for expected in [None, Some(&report)] {
                let swapped = store.swap_report(expected, &report);
                assert!(
                    matches!(swapped, Err(StoreError::Corrupt { .. })),
                    "a swap over corruption: {swapped:?}"
                );
            }
        }
        assert!(h.tamper_with_report(&mut store, &good));
        assert_eq!(store.load_report().expect("the good bytes again").as_ref(), Some(&report));
        true
    }

    fn empty_store_has_no_authority<H: StoreHarness>(h: &mut H) -> bool {
        let store = h.fresh();
        assert!(matches!(store.load(), Ok(None)), "a fresh store must hold no authority");
        true
    }

    fn bootstrap_writes_epoch_one_once<H: StoreHarness>(h: &mut H) -> bool {
        let mut store = h.fresh();
        let record = store.bootstrap(node("primary-a")).expect("bootstrap of an empty store");
        assert_eq!(record.epoch(), aerodb_core::Epoch::INITIAL);
        assert_eq!(store.load().expect("load").as_ref(), Some(&record));
        let again = store.bootstrap(node("primary-b"));
        assert!(
            matches!(again, Err(StoreError::Conflict { .. })),
            "second bootstrap must be refused: {again:?}"
        );
        assert_eq!(
            store.load().expect("load").as_ref(),
            Some(&record),
            "a refused bootstrap changes nothing"
        );
        true
    }

    fn commit_is_compare_and_swap<H: StoreHarness>(h: &mut H) -> bool {
        let mut store = h.fresh();
        let first = store.bootstrap(node("primary-a")).expect("bootstrap");
        let second = promote(&mut store, "replica-b", 10);
        let stale = second.clone();
        let result = store.commit(&Proposal::new(Some(first), stale));
        assert!(
            matches!(result, Err(StoreError::Conflict { .. })),
            "stale expected epoch must conflict: {result:?}"
        );
        let none = store.commit(&Proposal::bootstrap(node("primary-z")));
        assert!(
            matches!(none, Err(StoreError::Conflict { .. })),
            "expected 'no record' must conflict: {none:?}"
        );
        assert_eq!(store.load().expect("load"), Some(second), "conflicts change nothing");
        true
    }

    /// P6-A1: a proposal whose predecessor differs from the durable record at the same epoch —
    /// another primary, start or history, as another cluster's authority would — is refused
    /// with [`StoreError::PredecessorMismatch`], and nothing is written; the true predecessor
    /// still commits afterwards.
    fn commit_compares_the_whole_predecessor<H: StoreHarness>(h: &mut H) -> bool {
        let mut store = h.fresh();
        let first = store.bootstrap(node("primary-a")).expect("bootstrap");
        // Elsewhere: an authority reaching `durable`'s epoch another way, and its successor.
        let elsewhere = |bootstrap: &str, promotion: Option<u64>| {
            let mut other = MemoryStore::default();
            let mut predecessor = other.bootstrap(node(bootstrap)).expect("bootstrap elsewhere");
            if let Some(lsn) = promotion {
                predecessor = promote(&mut other, "replica-b", lsn);
            }
            let successor = promote(&mut other, "replica-c", 40);
            (predecessor, successor)
        };
        let refuse = |store: &mut H::Store, (predecessor, successor), durable: &AuthorityRecord| {
            let result = store.commit(&Proposal::new(Some(predecessor), successor));
            assert!(
                matches!(result, Err(StoreError::PredecessorMismatch(_))),
                "another authority at the expected epoch must be refused: {result:?}"
            );
            assert_eq!(store.load().expect("load").as_ref(), Some(durable), "a refusal writes nothing");
        };
        // Epoch 1 led by another primary.
        refuse(&mut store, elsewhere("primary-z", None), &first);
        let second = promote(&mut store, "replica-b", 10);
        // Epoch 2 led by the same primary, from another start.
        refuse(&mut store, elsewhere("primary-a", Some(20)), &second);
        // Epoch 2 led by the same primary from the same start, after another epoch 1.
        refuse(&mut store, elsewhere("primary-z", Some(10)), &second);
        let third = promote(&mut store, "replica-c", 40);
        assert_eq!(third.epoch(), aerodb_core::Epoch::new(3), "the true predecessor still commits");
        true
    }

    fn commit_requires_the_successor_epoch<H: StoreHarness>(h: &mut H) -> bool {
        let mut store = h.fresh();
        let first = store.bootstrap(node("primary-a")).expect("bootstrap");
        let result = store.commit(&Proposal::new(Some(first.clone()), first.clone()));
        assert!(
            matches!(result, Err(StoreError::NotSuccessor { .. })),
            "same epoch must be refused: {result:?}"
        );
        let result = store.commit(&Proposal::new(None, first));
        assert!(matches!(result, Err(StoreError::Conflict { .. })), "{result:?}");
        true
    }

    fn promotions_survive_reopen<H: StoreHarness>(h: &mut H) -> bool {
        let mut store = h.fresh();
        store.bootstrap(node("primary-a")).expect("bootstrap");
        promote(&mut store, "replica-b", 10);
        let last = promote(&mut store, "primary-a", 25);
        assert_eq!(last.epoch(), aerodb_core::Epoch::new(3));
        let store = h.reopen(store);
        let recovered = recover(&store).expect("recover after reopen");
        assert_eq!(recovered.authority.as_ref(), Some(&last), "reopen must find the last committed record");
        let again = recover(&store).expect("recover twice");
        assert_eq!(again.authority, recovered.authority, "recovery is deterministic (P6-D2)");
        true
    }

    fn corruption_fails_closed<H: StoreHarness>(h: &mut H) -> bool {
        let mut store = h.fresh();
        let record = store.bootstrap(node("primary-a")).expect("bootstrap");
        let good = codec::encode(&record).expect("encode");
        let mut flipped = good.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x01;
        for bytes in [&flipped[..], &good[..good.len() - 1], &[][..], b"not a record"] {
            if !h.tamper_with_record(&mut store, bytes) {
                return false;
            }
            let loaded = store.load();
            assert!(
                matches!(loaded, Err(StoreError::Corrupt { .. })),
                "corrupt bytes must not load: {loaded:?}"
            );
            assert!(recover(&store).is_err(), "recovery must refuse a corrupt record");
        }
        true
    }

    fn commit_over_corruption_fails_closed<H: StoreHarness>(h: &mut H) -> bool {
        let mut store = h.fresh();
        let record = store.bootstrap(node("primary-a")).expect("bootstrap");
        if !h.tamper_with_record(&mut store, b"garbage") {
            return false;
        }
        let successor = AuthorityRecord::bootstrap(node("primary-b"));
        for expected in [None, Some(record)] {
            let result = store.commit(&Proposal::new(expected, successor.clone()));
            assert!(matches!(result, Err(StoreError::Corrupt { .. })), "commit over corruption: {result:?}");
        }
        true
    }

    fn crash_leftovers_are_ignored_and_cleaned<H: StoreHarness>(h: &mut H) -> bool {
        let mut store = h.fresh();
        let record = store.bootstrap(node("primary-a")).expect("bootstrap");
        if !h.leave_crash_leftovers(&mut store) {
            return false;
        }
        let mut store = h.reopen(store);
        assert_eq!(store.load().expect("load after leftovers"), Some(record.clone()), "leftovers never win");
        let next = promote(&mut store, "replica-b", 5);
        assert_eq!(next.epoch(), aerodb_core::Epoch::new(record.epoch().get() + 1));
        true
    }

    fn second_handle_is_locked_out<H: StoreHarness>(h: &mut H) -> bool {
        let store = h.fresh();
        match h.open_second(&store) {
            None => false,
            Some(Ok(_)) => panic!("a second handle must be refused while the first is open"),
            Some(Err(StoreError::Locked { .. })) => {
                let _reopened = h.reopen(store);
                true
            }
            Some(Err(other)) => panic!("a second handle must fail with Locked, got {other}"),
        }
    }
}

/// An authority store in memory: the same framing and checks as on disk, no durability.
/// For tests and benchmarks of the promotion flow. NOT A STORE FOR A CLUSTER: the authority is
/// gone with the process, and two of them are two authorities, each granting its own primary.
#[derive(Debug, Default)]
pub struct MemoryStore {
    bytes: Option<Vec<u8>>,
    report: Option<Vec<u8>>,
    slot: PromotionSlot,
}

impl MemoryStore {
    /// The stored frame, if any.
    pub fn bytes(&self) -> Option<&[u8]> {
        self.bytes.as_deref()
    }
}

impl AuthorityStore for MemoryStore {
    fn load(&self) -> Result<Option<AuthorityRecord>, StoreError> {
        let record = self
            .bytes
            .as_deref()
            .map(codec::decode)
            .transpose()
            .map_err(|error| StoreError::Corrupt { location: Location::key("<memory>"), error })?;
        self.slot.admit_loaded(record.as_ref())?;
        Ok(record)
    }

    fn commit(&mut self, proposal: &Proposal) -> Result<(), StoreError> {
        check_commit(self.load()?.as_ref(), proposal)?;
        check_evidence(self.load_report()?.as_ref(), proposal)?;
        self.bytes = Some(codec::encode(proposal.record())?);
        self.slot.note_committed(proposal.record());
        Ok(())
    }

    fn slot(&self) -> &PromotionSlot {
        &self.slot
    }

    fn load_report(&self) -> Result<Option<PrimaryReport>, StoreError> {
        self.report
            .as_deref()
            .map(codec::decode_report)
            .transpose()
            .map_err(|error| StoreError::Corrupt { location: Location::key("<memory report>"), error })
    }

    fn swap_report(
        &mut self,
        expected: Option<&PrimaryReport>,
        report: &PrimaryReport,
    ) -> Result<(), StoreError> {
        check_report(self.load()?.as_ref(), self.load_report()?.as_ref(), expected, report)?;
        self.report = Some(codec::encode_report(report)?);
        Ok(())
    }
}

/// Runs the suite on [`MemoryStore`]: no leftovers, no lock.
#[derive(Debug, Default)]
pub struct MemoryHarness;

impl StoreHarness for MemoryHarness {
    type Store = MemoryStore;

    fn fresh(&mut self) -> MemoryStore {
        MemoryStore::default()
    }

    fn reopen(&mut self, store: MemoryStore) -> MemoryStore {
        MemoryStore { bytes: store.bytes, report: store.report, slot: PromotionSlot::new() }
    }

    fn tamper_with_record(&mut self, store: &mut MemoryStore, bytes: &[u8]) -> bool {
        store.bytes = Some(bytes.to_vec());
        true
    }

    fn tamper_with_report(&mut self, store: &mut MemoryStore, bytes: &[u8]) -> bool {
        store.report = Some(bytes.to_vec());
        true
    }

    fn leave_crash_leftovers(&mut self, _store: &mut MemoryStore) -> bool {
        false
    }

    fn open_second(&mut self, _store: &MemoryStore) -> Option<Result<MemoryStore, StoreError>> {
        None
    }
}
