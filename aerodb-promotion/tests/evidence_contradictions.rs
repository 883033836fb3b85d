//! Evidence that contradicts the inputs or the authority is denied (P6-F1), and the evidence a
//! stop rests on stays as it was (P6-S1). Each case was found by an adversarial review, which
//! saw it approved.

use aerodb_core::*;
use aerodb_promotion::*;

fn id(s: &str) -> NodeId {
    NodeId::new(s).unwrap()
}

fn pos(e: u64, l: u64) -> WalPosition {
    WalPosition::new(Epoch::new(e), Lsn::new(l))
}

fn history(points: &[(u64, u64)]) -> EpochHistory {
    EpochHistory::new(
        points.iter().map(|&(e, s)| EpochStart { epoch: Epoch::new(e), start: Lsn::new(s) }).collect(),
    )
    .unwrap()
}

fn node(name: &str, role: ReplicationState, at: WalPosition, h: &EpochHistory) -> NodeView {
    NodeView::new(id(name), role, at).with_history(h.clone()).with_mvcc(MvccBoundary::at_rest(at.lsn))
}

fn request(candidate: &str) -> PromotionRequest {
    PromotionRequest::builder(candidate).build().unwrap()
}

/// Authority: epoch 2 led by `primary-0`, begun at LSN 100 (`[1@0, 2@100]`). The report of
/// `primary-0` at epoch 2 says it stopped *cleanly* with its last checkpoint at `checkpoint`.
/// Observed: the old primary itself (halted) at 2/300, `replica-2` at 2/300, and the candidate
/// `replica-1` at 2/100, exactly the epoch's switch point. Nothing else bounds the
/// acknowledged position (no position given, no synchronous rule).
fn inputs_with_clean_stop_at(checkpoint: WalPosition) -> ValidationInputs {
    let h = history(&[(1, 0), (2, 100)]);
    let halted = ReplicationState::ReplicationHalted { reason: HaltReason::AuthorityAmbiguity };
    let report = PrimaryReport::new(Epoch::new(2), id("primary-0"))
        .with_stop_requested()
        .with_stopped(Stopped { checkpoint, clean: true });
    ValidationInputs::new(Some(AuthorityView::new(id("primary-0"), h.clone())))
        .with_node(node("primary-0", halted, pos(2, 300), &h))
        .with_node(node("replica-1", ReplicationState::ReplicaActive, pos(2, 100), &h))
        .with_node(node("replica-2", ReplicationState::ReplicaActive, pos(2, 300), &h))
        .with_old_primary(OldPrimary::Unknown)
        .with_report(report)
}

/// A clean shutdown checkpoint of the epoch-2 primary that lies *before its own epoch began*
/// (1/50, while epoch 2 began at 100 and the primary's own WAL is observed to reach 2/300) is
/// impossible: a clean shutdown writes its checkpoint at the end of the primary's WAL, on its
/// epoch. The validator takes it as the acknowledged bound all the same ("clean stop"), finds
/// it held by any candidate at the switch point, and approves `replica-1` at 2/100 — while the
/// primary wrote, and `replica-2` received, 200 bytes of epoch 2 that may hold acknowledged
/// commits. The same contradiction written with its epoch's name (2/50) is denied
/// (`AcknowledgedBeforeEpochStart`); written under epoch 1 it passes. P6-F1 asks that
/// inconsistent input deny; P6-S1 is at stake (one wrong agent statement or one mislabelled
/// timeline suffices, and nothing else in the inputs is consulted).
#[test]
fn a_clean_stop_checkpoint_before_its_epoch_began_is_denied() {
    // Labelled with its own epoch, the contradiction is refused.
    let same_epoch =
        assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs_with_clean_stop_at(pos(2, 50)));
    assert!(
        matches!(same_epoch.verdict, Verdict::Deny(DenialReason::AcknowledgedBeforeEpochStart { .. })),
        "{:?}",
        same_epoch.verdict
    );
    // Labelled with the previous epoch, the same impossible checkpoint approves.
    let inputs = inputs_with_clean_stop_at(pos(1, 50));
    let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
    if let Verdict::Approve(plan) = &assessment.verdict {
        panic!(
            " approved replica-1 at 2/100 on a clean-stop bound {} (source {:?}) that lies before \
             the epoch-2 primary's own epoch began, while the old primary and replica-2 are observed at \
             2/300 (P6-F1, P6-S1)",
            plan.evidence.acknowledged, plan.evidence.acknowledged_from
        );
    }
}

/// Once a stop is requested (and stated), the primary's agent never touches the rules again
/// (`aerodb-cli/src/agent/plan.rs`: the stop step comes first; `sync_step` runs only for a
/// writable primary), and the server cannot acknowledge anything more. Yet `check_report`
/// lets the report's rules be narrowed while the stop stands ("a stop request or statement,
/// once made, stays" covers only the stop): here `ANY 1 (replica-1, replica-2)` becomes
/// `FIRST 1 (replica-1)` after the statement. Before, promoting `replica-1` (1/150) is denied
/// because `replica-2` (1/300) may have acknowledged past it; after, the rewritten evidence
/// derives the bound 1/150 from `replica-1` alone and the promotion is approved and commits.
/// Commits acknowledged by `replica-2` under the rule that was in force are lost (P6-S1);
/// nothing the agent protocol does needs this write to be accepted.
#[test]
fn the_rules_cannot_be_narrowed_while_a_stop_stands() {
    use aerodb_promotion::testing::MemoryStore;
    let mut store = MemoryStore::default();
    let record = store.bootstrap(id("primary-0")).unwrap();
    let both = SyncRule::new(SyncMethod::Any, 1, vec![id("replica-1"), id("replica-2")]).unwrap();
    let stopped = PrimaryReport::new(record.epoch(), id("primary-0"))
        .with_synchronous(vec![both])
        .unwrap()
        .with_stop_requested()
        .with_stopped(Stopped { checkpoint: pos(1, 10), clean: false });
    store.swap_report(None, &stopped).unwrap();
    let h = record.epoch_history().clone();
    let inputs = |report: PrimaryReport| {
        ValidationInputs::new(Some(record.view()))
            .with_node(node("replica-1", ReplicationState::ReplicaActive, pos(1, 150), &h))
            .with_node(node("replica-2", ReplicationState::ReplicaActive, pos(1, 300), &h))
            .with_old_primary(OldPrimary::Unknown)
            .with_report(report)
    };
    let before = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs(stopped.clone()));
    assert!(
        matches!(before.verdict, Verdict::Deny(DenialReason::CandidateBehind { .. })),
        "{:?}",
        before.verdict
    );

    let narrowed = stopped
        .clone()
        .with_synchronous(vec![SyncRule::new(SyncMethod::First, 1, vec![id("replica-1")]).unwrap()])
        .unwrap();
    let written = store.swap_report(Some(&stopped), &narrowed);
    let after = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs(narrowed));
    assert!(
        matches!(written, Err(StoreError::Report(ReportRefusal::RulesWhileStopped))),
        "the rules narrowed after the primary stopped were accepted: {written:?}"
    );
    assert!(!matches!(after.verdict, Verdict::Approve(_)) || written.is_err());
}

/// A primary report is written only for the current authority (`check_report`), so a report
/// for an epoch *above* the authority in the inputs proves that authority existed: the record
/// the inputs carry went back (a restore behind the store's back that the high-water copy did
/// not catch, a stale read). Check 2 denies a node that "knows a newer epoch" for exactly this
/// reason (P6-A1, P6-F1), but a report from the future is just "evidence of nothing"
/// (`current_report` filters it out) and the promotion to that very epoch is approved: a
/// second primary at epoch 2 beside `replica-9`, which reported itself primary there.
#[test]
fn a_report_from_a_newer_epoch_denies() {
    let h = history(&[(1, 0)]);
    let future = PrimaryReport::new(Epoch::new(2), id("replica-9"))
        .with_synchronous(vec![SyncRule::new(SyncMethod::Any, 1, vec![id("replica-1")]).unwrap()])
        .unwrap();
    let inputs = ValidationInputs::new(Some(AuthorityView::new(id("primary-0"), h.clone())))
        .with_node(node("replica-1", ReplicationState::ReplicaActive, pos(1, 150), &h))
        .with_old_primary(OldPrimary::ConfirmedStopped)
        .with_acknowledged(pos(1, 150))
        .with_report(future);
    let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
    if let Verdict::Approve(plan) = &assessment.verdict {
        panic!(
            " approved epoch {} for replica-1 although the inputs carry replica-9's durable report \
             as primary of epoch 2: the authority record went back (P6-A1, P6-F1)",
            plan.new_epoch
        );
    }
}

/// The same through the file store: the metadata directory restored from a backup taken at
/// epoch 1 by copying its files back (the record and its high-water copy go back together, so
/// the store's went-back check passes); the backup had no `primary.report`, so epoch 2's
/// report stays — the one durable witness that `replica-1` was primary at epoch 2. The store
/// and the validator ignore it and commit a second epoch 2, led by `replica-2`.
#[test]
fn a_restored_file_store_does_not_promote_into_an_epoch_its_report_proves_was_held() {
    use aerodb_promotion::testing::caught_up_inputs;
    let dir = tempfile::Builder::new().prefix("aerodb-future-report-").tempdir().unwrap();
    let metadata = dir.path().join("metadata");
    let promote = |store: &mut FileAuthorityStore, candidate: &str, report: Option<PrimaryReport>| {
        let recovered = recover(&*store).unwrap();
        let record = recovered.authority.clone().unwrap();
        let mut inputs = caught_up_inputs(&record, id(candidate), 40);
        inputs.report = report;
        let validating = recovered
            .steady
            .request(request(candidate))
            .begin_validation(PromotionPolicy::Enabled, &inputs)
            .unwrap();
        match validating.decide(&inputs) {
            Decision::Approved(approved) => {
                approved.begin_transition().commit(store).map(|s| s.complete().1.record().clone()).ok()
            }
            Decision::Denied(_) => None,
        }
    };
    let backup: Vec<(std::path::PathBuf, Vec<u8>)>;
    {
        let mut store = FileAuthorityStore::open(dir.path()).unwrap();
        store.bootstrap(id("primary-0")).unwrap();
        backup = ["authority.record", "authority.highest"]
            .iter()
            .filter_map(|f| std::fs::read(metadata.join(f)).ok().map(|b| (metadata.join(f), b)))
            .collect();
        assert_eq!(backup.len(), 2, "the record and its high-water copy backed up");
        let second = promote(&mut store, "replica-1", None).expect("epoch 2 for replica-1");
        assert_eq!((second.epoch(), second.primary()), (Epoch::new(2), id("replica-1")));
        store.swap_report(None, &PrimaryReport::new(Epoch::new(2), id("replica-1"))).unwrap();
    }
    for (path, bytes) in &backup {
        std::fs::write(path, bytes).unwrap();
    }
    let mut store = FileAuthorityStore::open(dir.path()).unwrap();
    let witness = store.load_report().unwrap().expect("epoch 2's report survived the restore");
    assert_eq!((witness.epoch(), witness.primary()), (Epoch::new(2), id("replica-1")));
    if let Some(again) = promote(&mut store, "replica-2", Some(witness)) {
        panic!(
            " committed epoch {} led by {} although the store's own report shows replica-1 \
             primary at epoch 2: two primaries at epoch 2 (P6-A1)",
            again.epoch(),
            again.primary()
        );
    }
}
