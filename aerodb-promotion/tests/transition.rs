//! Authority transition (stage 6.4), recovery, and replication rebinding (stage 6.5).

mod common;

use aerodb_core::*;
use aerodb_promotion::file_store::OpenReport;
use aerodb_promotion::testing::caught_up_inputs;
use aerodb_promotion::*;
use common::faulty::{FaultKind, Faulty, Plan};
use common::*;

/// Inputs approving `candidate` over `record`, everyone caught up at `lsn`, old primary as given.
fn inputs_over(
    record: &AuthorityRecord,
    candidate: &str,
    lsn: u64,
    old_primary: OldPrimary,
) -> ValidationInputs {
    caught_up_inputs(record, id(candidate), lsn).with_old_primary(old_primary)
}

fn approved<St: AuthorityStore>(
    store: &St,
    candidate: &str,
    inputs: &ValidationInputs,
) -> Promotion<AuthorityTransitioning> {
    approve(store, candidate, inputs).begin_transition()
}

#[test]
fn a_successful_promotion_commits_epoch_plus_one_and_rebinds_roles() {
    let dir = temp_dir("success");
    let mut store = FileAuthorityStore::open(dir.path()).unwrap();
    let first = store.bootstrap(id("primary-0")).unwrap();
    let inputs = inputs_over(&first, "replica-1", 300, OldPrimary::Fenced);

    let old_gate = WriteGate::replica(id("primary-0"), None).unwrap();
    let bootstrap_grant = recover(&store).unwrap().grant.unwrap();
    bootstrap_grant.rebind(ReplicationState::Uninitialized, &old_gate, &store).unwrap();
    let new_gate = WriteGate::replica(id("replica-1"), Some(&first)).unwrap();
    let follower = WriteGate::replica(id("replica-2"), Some(&first)).unwrap();
    let never_both = || !(old_gate.admit_write().is_ok() && new_gate.admit_write().is_ok());
    assert!(never_both());

    // The operator fences the old primary before promoting (OldPrimary::Fenced).
    old_gate.observe_epoch(Epoch::new(2));
    assert!(never_both());

    let transitioning = approved(&store, "replica-1", &inputs);
    assert!(never_both());
    let succeeded = transitioning.commit(&mut store).unwrap();
    assert!(never_both());
    let record = succeeded.committed().record().clone();
    assert_eq!(record.epoch(), Epoch::new(2));
    assert_eq!(record.primary(), id("replica-1"));
    assert_eq!(record.previous_primary(), Some(id("primary-0")));
    assert_eq!(record.start(), WalPosition::new(Epoch::new(1), Lsn::new(300)));
    assert_eq!(
        record.history(),
        [PastAuthority {
            epoch: Epoch::new(1),
            primary: id("primary-0"),
            start: first.start(),
            request: None
        }]
    );
    assert_eq!(record.request().unwrap().candidate, id("replica-1"));
    assert_eq!(record.request().unwrap().force, Force::NotRequested);

    let (steady, committed) = succeeded.complete();
    assert_eq!(steady.kind(), StateKind::Steady);
    assert_eq!(committed.record(), &record);
    let role = committed.into_grant().rebind(ReplicationState::ReplicaActive, &new_gate, &store).unwrap();
    assert_eq!(role, ReplicationState::PrimaryActive);
    assert_eq!(new_gate.admit_write(), Ok(Epoch::new(2)));
    assert!(never_both());
    assert!(matches!(old_gate.admit_write(), Err(WriteRefused::Fenced { .. })));

    // A replica that follows the new epoch refuses WAL from the deposed primary.
    follower.admit_wal(Epoch::new(2)).unwrap();
    assert_eq!(
        follower.admit_wal(Epoch::new(1)),
        Err(WalRefused::StaleEpoch { sender: Epoch::new(1), own: Epoch::new(2) })
    );

    assert!(!store.slot().is_busy());
    assert_eq!(store.load().unwrap(), Some(record));
}

#[test]
fn rebinding_refuses_a_candidate_that_is_not_a_replica() {
    let mut store = aerodb_promotion::testing::MemoryStore::default();
    let first = store.bootstrap(id("primary-0")).unwrap();
    let inputs = inputs_over(&first, "replica-1", 10, OldPrimary::ConfirmedStopped);
    let succeeded = approved(&store, "replica-1", &inputs).commit(&mut store).unwrap();
    let gate = WriteGate::replica(id("replica-1"), Some(&first)).unwrap();
    let halted = ReplicationState::ReplicationHalted { reason: HaltReason::WalGap };
    let grant = succeeded.complete().1.into_grant();
    assert!(matches!(grant.rebind(halted, &gate, &store), Err(RebindError::Role(_))));
    assert!(gate.admit_write().is_err(), "a refused rebind leaves the gate untouched");
}

/// P6-A1: one commit makes one gate writable, and only the named node's. (Before, rebinding
/// borrowed the attempt and a gate had no node, so two replicas' gates both became writable
/// at the same epoch.)
#[test]
fn one_commit_makes_exactly_one_gate_writable() {
    let mut store = aerodb_promotion::testing::MemoryStore::default();
    let first = store.bootstrap(id("primary-0")).unwrap();
    let inputs = inputs_over(&first, "replica-1", 10, OldPrimary::ConfirmedStopped);
    let committed = approved(&store, "replica-1", &inputs).commit(&mut store).unwrap().complete().1;
    let grant = committed.into_grant();
    assert_eq!((grant.node(), grant.epoch()), (id("replica-1"), Epoch::new(2)));
    let other = WriteGate::replica(id("replica-2"), Some(&first)).unwrap();
    assert!(matches!(
        grant.rebind(ReplicationState::ReplicaActive, &other, &store),
        Err(RebindError::WrongNode { named, gate }) if named == id("replica-1") && gate == id("replica-2")
    ));
    assert!(other.admit_write().is_err());
    // The commit's grant was this handle's one grant for epoch 2: recovery hands out no other.
    assert!(recover(&store).unwrap().grant.is_none(), "a second grant for the same record");
    assert!(recover(&store).unwrap().grant.is_none());
}

/// P6-A1: a handle hands out one grant per durable record, whoever asks and however often;
/// a newer record has its own.
#[test]
fn a_store_handle_grants_each_record_once() {
    let mut store = aerodb_promotion::testing::MemoryStore::default();
    let first = store.bootstrap(id("primary-0")).unwrap();
    let grant = recover(&store).unwrap().grant.expect("the bootstrap record's grant");
    assert_eq!((grant.node(), grant.epoch(), grant.record()), (id("primary-0"), Epoch::new(1), &first));
    for _ in 0..3 {
        assert!(recover(&store).unwrap().grant.is_none());
    }
    let inputs = inputs_over(&first, "replica-1", 10, OldPrimary::ConfirmedStopped);
    let committed = approved(&store, "replica-1", &inputs).commit(&mut store).unwrap().complete().1;
    assert!(recover(&store).unwrap().grant.is_none(), "the commit's grant is the one for epoch 2");
    let gate = WriteGate::replica(id("replica-1"), Some(&first)).unwrap();
    let second = committed.into_grant();
    assert_ne!(grant, second, "grants for two records differ");
    second.rebind(ReplicationState::ReplicaActive, &gate, &store).unwrap();
    assert_eq!(gate.admit_write(), Ok(Epoch::new(2)));
}

/// P6-A1, P6-A3: a grant works only while its record is still the durable authority. The
/// issue's case: a grant for epoch 1 kept while epoch 2 is committed for another node no longer
/// makes a freshly built gate writable — whatever epoch that gate was built at — and the gate
/// learns epoch 2 from the refusal.
#[test]
fn a_superseded_grant_is_refused() {
    let mut store = aerodb_promotion::testing::MemoryStore::default();
    let first = store.bootstrap(id("primary-0")).unwrap();
    let stale = recover(&store).unwrap().grant.unwrap();
    let inputs = inputs_over(&first, "replica-1", 10, OldPrimary::ConfirmedStopped);
    let committed = approved(&store, "replica-1", &inputs).commit(&mut store).unwrap().complete().1;
    let gate = WriteGate::replica(id("primary-0"), Some(&first)).unwrap();
    assert!(matches!(
        stale.rebind(ReplicationState::Uninitialized, &gate, &store),
        Err(RebindError::Superseded { granted, durable: Some(durable) })
            if granted == Epoch::new(1) && durable == Epoch::new(2)
    ));
    assert!(gate.admit_write().is_err());
    assert_eq!(gate.epoch(), Epoch::new(2), "the refusal taught the gate the durable epoch");
    // The new primary's grant still works: one writer, at epoch 2.
    let new_gate = WriteGate::replica(id("replica-1"), Some(&first)).unwrap();
    committed.into_grant().rebind(ReplicationState::ReplicaActive, &new_gate, &store).unwrap();
    assert_eq!(new_gate.admit_write(), Ok(Epoch::new(2)));
}

/// A grant is used with the store handle that minted it, and only while that store still holds
/// its record: not with another store holding the same bytes, nor after the record vanished or
/// was replaced behind the handle's back.
#[test]
fn a_grant_is_usable_only_with_its_own_store_while_its_record_is_durable() {
    use aerodb_promotion::testing::{MemoryHarness, StoreHarness};
    let mut harness = MemoryHarness;
    let mut store = harness.fresh();
    let first = store.bootstrap(id("primary-0")).unwrap();
    let grant = recover(&store).unwrap().grant.unwrap();
    // Another handle on the same bytes: its own slot, its own grant.
    let twin = harness.reopen(store);
    let gate = WriteGate::replica(id("primary-0"), Some(&first)).unwrap();
    assert!(matches!(
        grant.rebind(ReplicationState::Uninitialized, &gate, &twin),
        Err(RebindError::OtherStore)
    ));
    assert!(gate.admit_write().is_err());
    assert!(recover(&twin).unwrap().grant.is_some(), "a new handle hands out its own grant");
    // A record planted over the durable one (another cluster's, here epoch 1 naming another
    // node) is not the record the grant names.
    let mut store = harness.fresh();
    store.bootstrap(id("primary-0")).unwrap();
    let grant = recover(&store).unwrap().grant.unwrap();
    let mut other = harness.fresh();
    let planted = other.bootstrap(id("primary-9")).unwrap();
    assert!(harness.tamper_with_record(&mut store, &planted.to_bytes().unwrap()));
    // The handle saw its own epoch-1 record: the planted one is refused as going back.
    assert!(matches!(
        grant.rebind(ReplicationState::Uninitialized, &gate, &store),
        Err(RebindError::Store(StoreError::WentBack(_)))
    ));
    assert!(gate.admit_write().is_err());
    // Through a handle that never saw the first record, the planted one is simply not the
    // record the grant names.
    let grant = recover(&other).unwrap().grant.unwrap();
    let planted_gate = WriteGate::replica(id("primary-9"), None).unwrap();
    let mut replacement = harness.fresh();
    let replaced = replacement.bootstrap(id("primary-8")).unwrap();
    assert!(harness.tamper_with_record(&mut other, &replaced.to_bytes().unwrap()));
    let fresh_view = harness.reopen(other);
    assert!(matches!(
        grant.rebind(ReplicationState::Uninitialized, &planted_gate, &fresh_view),
        Err(RebindError::OtherStore)
    ));
    assert!(planted_gate.admit_write().is_err());
}

/// What stays the caller's duty (docs/PROTOCOL.md §9): one gate per node process. A node that
/// reopens its store and builds a second gate without dropping the first gets a second grant for
/// the same record from the new handle: both gates admit writes, for the same node at the same
/// epoch. The library cannot see two gates of one process; this test shows what breaking the
/// rule does.
#[test]
fn two_gates_for_one_node_in_one_process_is_the_callers_duty() {
    let dir = temp_dir("two-gates");
    let first = FileAuthorityStore::open(dir.path()).unwrap().bootstrap(id("primary-0")).unwrap();
    let store = FileAuthorityStore::open(dir.path()).unwrap();
    let gate = WriteGate::replica(id("primary-0"), Some(&first)).unwrap();
    recover(&store).unwrap().grant.unwrap().rebind(ReplicationState::Uninitialized, &gate, &store).unwrap();
    drop(store);
    let reopened = FileAuthorityStore::open(dir.path()).unwrap();
    let second = WriteGate::replica(id("primary-0"), Some(&first)).unwrap();
    let grant = recover(&reopened).unwrap().grant.unwrap();
    grant.rebind(ReplicationState::Uninitialized, &second, &reopened).unwrap();
    assert_eq!((gate.admit_write(), second.admit_write()), (Ok(Epoch::new(1)), Ok(Epoch::new(1))));
    // The same gate never takes a second grant.
    drop(reopened);
    let again = FileAuthorityStore::open(dir.path()).unwrap();
    let grant = recover(&again).unwrap().grant.unwrap();
    assert!(matches!(
        grant.rebind(ReplicationState::Uninitialized, &gate, &again),
        Err(RebindError::Gate(GateError::NotReplica))
    ));
}

#[test]
fn a_forced_promotion_is_recorded_durably() {
    let mut store = aerodb_promotion::testing::MemoryStore::default();
    let first = store.bootstrap(id("primary-0")).unwrap();
    let inputs = inputs_over(&first, "replica-1", 10, OldPrimary::Unknown);
    let approved = forced_approval(&store, &inputs);
    assert!(approved.approval().plan().force_asserted());
    let succeeded = approved.begin_transition().commit(&mut store).unwrap();
    let record = succeeded.complete().1.record().clone();
    let summary = record.request().unwrap().clone();
    assert_eq!(summary.force, Force::CarriedTheDecision);
    assert_eq!(summary.reason.as_deref(), Some("operator confirmed host power-off"));

    // P6-A1a: the next promotion keeps the forced one's flag and reason in its history.
    // (Format 1 kept only epoch, primary and start per entry, so both vanished here.)
    let inputs = inputs_over(&record, "primary-0", 20, OldPrimary::ConfirmedStopped);
    let next = approved_and_committed(&mut store, "primary-0", &inputs);
    assert_eq!(next.request().unwrap().force, Force::NotRequested);
    assert_eq!(next.history().last().unwrap().request.as_ref(), Some(&summary));
    assert_eq!(next.history()[0].request, None, "the bootstrap had no request");
}

/// A forced request for `replica-1`, approved on `inputs`.
fn forced_approval<St: AuthorityStore>(
    store: &St,
    inputs: &ValidationInputs,
) -> Promotion<PromotionApproved> {
    let validating = recover(store)
        .unwrap()
        .steady
        .request(forced("replica-1"))
        .begin_validation(PromotionPolicy::Enabled, inputs)
        .unwrap();
    let Decision::Approved(approved) = validating.decide(inputs) else { panic!("approves") };
    approved
}

fn approved_and_committed<St: AuthorityStore>(
    store: &mut St,
    candidate: &str,
    inputs: &ValidationInputs,
) -> AuthorityRecord {
    let transitioning = approved(store, candidate, inputs);
    transitioning.commit(store).unwrap().complete().1.record().clone()
}

/// P6-A1a: force that was requested but not needed (the old primary was confirmed stopped)
/// is recorded as requested and unused, not as having carried the decision.
#[test]
fn force_requested_but_unused_is_recorded_as_such() {
    let mut store = aerodb_promotion::testing::MemoryStore::default();
    let first = store.bootstrap(id("primary-0")).unwrap();
    let inputs = inputs_over(&first, "replica-1", 10, OldPrimary::ConfirmedStopped);
    let approved = forced_approval(&store, &inputs);
    assert!(!approved.approval().plan().force_asserted());
    let committed = approved.begin_transition().commit(&mut store).unwrap().complete().1;
    assert_eq!(committed.record().request().unwrap().force, Force::RequestedUnused);
    assert!(matches!(
        committed.explain().authority,
        AuthorityAfter::Changed { force: Force::RequestedUnused, .. }
    ));
}

#[test]
fn the_authority_changing_after_validation_fails_closed() {
    let mut store = aerodb_promotion::testing::MemoryStore::default();
    let first = store.bootstrap(id("primary-0")).unwrap();
    let inputs = inputs_over(&first, "replica-1", 10, OldPrimary::ConfirmedStopped);
    let slot = PromotionSlot::new();
    let validating = Promotion::new(&slot)
        .request(request("replica-1"))
        .begin_validation(PromotionPolicy::Enabled, &inputs)
        .unwrap();
    let Decision::Approved(stale) = validating.decide(&inputs) else { panic!() };

    // Meanwhile another promotion commits epoch 2.
    let other = inputs_over(&first, "replica-2", 10, OldPrimary::ConfirmedStopped);
    let (_, winner) = approved(&store, "replica-2", &other).commit(&mut store).unwrap().complete();

    let failure = stale.begin_transition().commit(&mut store).unwrap_err();
    assert!(matches!(
        failure.error(),
        CommitError::Conflict(Conflict { expected: Some(e), found: Some(f) }) if (*e, *f) == (Epoch::new(1), Epoch::new(2))
    ));
    assert!(slot.is_busy(), "the failed attempt holds its slot until recovered");
    let (recovered, resolution) = failure.recover(&store).unwrap();
    assert_eq!(resolution, Resolution::NotApplied);
    assert_eq!(recovered.authority.as_ref(), Some(winner.record()));
    assert!(!slot.is_busy());
}

#[test]
fn a_validated_view_that_differs_from_the_durable_record_fails_closed() {
    let mut store = aerodb_promotion::testing::MemoryStore::default();
    let first = store.bootstrap(id("primary-0")).unwrap();
    let mut inputs = inputs_over(&first, "replica-1", 10, OldPrimary::ConfirmedStopped);
    inputs.authority = Some(AuthorityView::new(id("someone-else"), first.epoch_history().clone()));
    let failure = approved(&store, "replica-1", &inputs).commit(&mut store).unwrap_err();
    assert!(matches!(failure.error(), CommitError::StaleAuthority { epoch } if *epoch == Epoch::INITIAL));
    assert_eq!(store.load().unwrap(), Some(first));
}

/// P6-A1: the same epoch and primary with another history is another authority. A view whose
/// epoch 2 began at LSN 100, validated against a durable epoch 2 that began at LSN 40, fails
/// closed at the commit, however consistent the plan is with the view it was made from.
#[test]
fn a_validated_history_that_differs_from_the_durable_one_fails_closed() {
    let mut store = aerodb_promotion::testing::MemoryStore::default();
    let first = store.bootstrap(id("primary-0")).unwrap();
    let promoted = approved_and_committed(
        &mut store,
        "replica-1",
        &inputs_over(&first, "replica-1", 40, OldPrimary::ConfirmedStopped),
    );
    assert_eq!(promoted.epoch_history().entries()[1].start, Lsn::new(40));
    let other_history = history(&[(1, 0), (2, 100)]);
    let candidate = NodeView::new(id("replica-2"), ReplicationState::ReplicaActive, pos(2, 150))
        .with_history(other_history.clone())
        .with_mvcc(MvccBoundary::at_rest(Lsn::new(150)));
    let inputs = ValidationInputs::new(Some(AuthorityView::new(id("replica-1"), other_history)))
        .with_node(candidate)
        .with_old_primary(OldPrimary::ConfirmedStopped)
        .with_acknowledged(pos(2, 150));
    let failure = approved(&store, "replica-2", &inputs).commit(&mut store).unwrap_err();
    assert!(
        matches!(failure.error(), CommitError::StaleAuthority { epoch } if *epoch == Epoch::new(2)),
        "{}",
        failure.error()
    );
    assert_eq!(store.load().unwrap(), Some(promoted));
}

/// P6-F2, P6-O2: after a failed commit, recovery says `Applied` only if the durable record is
/// exactly this attempt's: a rival's record at the same epoch and start, with another primary,
/// is `NotApplied`.
#[test]
fn a_rivals_record_at_the_new_epoch_is_not_this_attempts() {
    let mut failing = FailingCommits::default();
    let first = failing.bootstrap(id("primary-0")).unwrap();
    let ours =
        approved(&failing, "replica-1", &inputs_over(&first, "replica-1", 10, OldPrimary::ConfirmedStopped));
    let failure = ours.commit(&mut failing).unwrap_err();
    assert!(!failure.error().is_conflict());
    // Another controller (its own slot; this attempt still holds ours) commits a rival.
    let rival_inputs = inputs_over(&first, "replica-2", 10, OldPrimary::ConfirmedStopped);
    let Decision::Approved(rival) = decided_on("replica-2", &rival_inputs, &rival_inputs) else { panic!() };
    let rival = rival.begin_transition().commit(&mut failing.0).unwrap().complete().1.record().clone();
    assert_eq!(
        (rival.epoch(), rival.start()),
        (failure.approval().plan().new_epoch, failure.approval().plan().start)
    );
    let (recovered, resolution) = failure.recover(&failing).unwrap();
    assert_eq!(resolution, Resolution::NotApplied);
    assert_eq!(recovered.authority, Some(rival));
}

/// P6-A1: the `Steady` an attempt returns to is the same authority's: its next attempt claims
/// the same slot and counts in the same metrics.
#[test]
fn the_returned_steady_keeps_the_authoritys_slot() {
    let mut store = aerodb_promotion::testing::MemoryStore::default();
    let first = store.bootstrap(id("primary-0")).unwrap();
    let inputs = inputs_over(&first, "replica-1", 10, OldPrimary::ConfirmedStopped);
    let (steady, committed) = approved(&store, "replica-1", &inputs).commit(&mut store).unwrap().complete();
    let next = inputs_over(committed.record(), "replica-2", 20, OldPrimary::ConfirmedStopped);
    let requested = steady.request(request("replica-2"));
    assert_eq!(store.slot().metrics().snapshot().requests_total, 2);
    let validating = requested.begin_validation(PromotionPolicy::Enabled, &next).unwrap();
    assert!(store.slot().is_busy(), "the next attempt holds the store's own slot");
    drop(validating);
}

#[test]
fn promotion_without_any_authority_is_denied() {
    let dir = temp_dir("unbootstrapped");
    let store = FileAuthorityStore::open(dir.path()).unwrap();
    let recovered = recover(&store).unwrap();
    assert_eq!(recovered.authority, None);
    let position = WalPosition::new(Epoch::new(1), Lsn::new(5));
    let inputs = ValidationInputs::new(recovered.authority.as_ref().map(AuthorityRecord::view))
        .with_node(replica("replica-1", position, EpochHistory::initial(Epoch::new(1))))
        .with_old_primary(OldPrimary::ConfirmedStopped)
        .with_acknowledged(position);
    let validating = recovered
        .steady
        .request(request("replica-1"))
        .begin_validation(PromotionPolicy::Enabled, &inputs)
        .unwrap();
    let Decision::Denied(denied) = validating.decide(&inputs) else { panic!("no authority must deny") };
    assert_eq!(denied.denial().reason(), DenialReason::NoAuthority);
    assert_eq!(denied.denial().reason().invariant(), Invariant::P6F1);
    assert_eq!(store.load().unwrap(), None, "a denial writes nothing");
}

#[test]
fn recovery_is_deterministic_and_records_are_byte_identical_for_identical_inputs() {
    let run = |tag: &str| {
        let dir = temp_dir(tag);
        let mut store = FileAuthorityStore::open(dir.path()).unwrap();
        let first = store.bootstrap(id("primary-0")).unwrap();
        let inputs = inputs_over(&first, "replica-1", 77, OldPrimary::ConfirmedStopped);
        let _ = approved(&store, "replica-1", &inputs).commit(&mut store).unwrap().complete();
        let a = recover(&store).unwrap().authority;
        drop(store);
        let store = FileAuthorityStore::open(dir.path()).unwrap();
        let b = recover(&store).unwrap().authority;
        assert_eq!(a, b, "recovery after reopen reconstructs the same authority (P6-D2)");
        std::fs::read(store.record_path()).unwrap()
    };
    assert_eq!(run("determinism-a"), run("determinism-b"));
}

fn commit_with_fault(fsync_file: bool) -> (Resolution, Option<AuthorityRecord>, OpenReport) {
    let dir = temp_dir(if fsync_file { "fault-file" } else { "fault-dir" });
    let first = FileAuthorityStore::open(dir.path()).unwrap().bootstrap(id("primary-0")).unwrap();
    let mut store = FileAuthorityStore::open_with(Faulty::default(), dir.path()).unwrap();
    let inputs = inputs_over(&first, "replica-1", 10, OldPrimary::ConfirmedStopped);
    let transitioning = approved(&store, "replica-1", &inputs);
    // Commit operations: read (the CAS reuses it), create, write, fsync file (3), rename, fsync dir (5).
    store.backend().arm(Plan { at: if fsync_file { 3 } else { 5 }, persistent: false, kind: FaultKind::Eio });
    let failure = transitioning.commit(&mut store).unwrap_err();
    let CommitError::Store(StoreError::Io { step, .. }) = failure.error() else {
        panic!("{}", failure.error())
    };
    assert_eq!(*step, if fsync_file { IoStep::SyncFile } else { IoStep::SyncDir });
    assert!(matches!(store.load(), Err(StoreError::Poisoned(_))), "an fsync error is fatal for the handle");
    assert!(matches!(store.bootstrap(id("x")), Err(StoreError::Poisoned(_))), "and never retried");
    drop(store);
    let fresh = FileAuthorityStore::open(dir.path()).unwrap();
    let report = fresh.open_report().clone();
    let (recovered, resolution) = failure.recover(&fresh).unwrap();
    (resolution, recovered.authority, report)
}

#[test]
fn a_failed_file_fsync_aborts_before_the_switch_and_recovery_finds_the_old_authority() {
    let (resolution, authority, report) = commit_with_fault(true);
    assert_eq!(resolution, Resolution::NotApplied);
    assert_eq!(authority.unwrap().epoch(), Epoch::new(1));
    assert_eq!(report.removed_leftovers.len(), 1, "the unsynced temporary file is a crash leftover");
}

#[test]
fn a_failed_directory_fsync_is_fatal_and_recovery_reports_what_the_disk_says() {
    let (resolution, authority, report) = commit_with_fault(false);
    // The rename reached the file system, so this machine's disk shows the new record.
    assert_eq!(resolution, Resolution::Applied);
    assert_eq!(authority.unwrap().epoch(), Epoch::new(2));
    assert!(report.removed_leftovers.is_empty());
}
