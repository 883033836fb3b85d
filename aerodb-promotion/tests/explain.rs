//! Explanation artifacts: golden text and JSON for every outcome and every denial reason.
//!
//! Re-bless after a deliberate wording change with
//! `AERODB_BLESS_GOLDEN=1 cargo test -p aerodb-promotion --test explain`, then review the diff.

mod common;

use std::path::PathBuf;

use aerodb_core::*;
use aerodb_promotion::testing::{MemoryStore, caught_up_inputs};
use aerodb_promotion::*;
use common::*;

fn golden(name: &str, explanation: &PromotionExplanation) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/explain");
    let text = explanation.to_string();
    let json = format!("{}\n", explanation.to_json().unwrap());
    let parsed: PromotionExplanation = serde_json::from_str(&json).unwrap();
    assert_eq!(&parsed, explanation, "{name}: JSON must round-trip");
    for (ext, actual) in [("txt", &text), ("json", &json)] {
        let path = dir.join(format!("{name}.{ext}"));
        if std::env::var_os("AERODB_BLESS_GOLDEN").is_some() {
            std::fs::write(&path, actual).unwrap();
        }
        let expected =
            std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing golden file {path:?}"));
        assert_eq!(actual, &expected, "{name}.{ext} differs from its golden file");
    }
}

/// An attempt on `inputs` (whose authority need not be durable: it never commits).
fn denied(candidate: &str, inputs: &ValidationInputs) -> PromotionExplanation {
    let explanation =
        attempt(&mut MemoryStore::default(), request(candidate), inputs, PromotionPolicy::Enabled);
    assert_eq!(explanation.outcome, Outcome::Denied, "{explanation}");
    explanation
}

fn with(change: impl FnOnce(&mut ValidationInputs)) -> ValidationInputs {
    let mut inputs = approving_inputs();
    change(&mut inputs);
    inputs
}

/// Every denial reason, each produced by a real attempt (or, where screening refuses first,
/// by the dry run).
fn denial_scenarios() -> Vec<(&'static str, PromotionExplanation)> {
    let r1 = |inputs: ValidationInputs| denied("replica-1", &inputs);
    let top = history(&[(Epoch::MAX.get(), 0)]);
    vec![
        ("candidate_missing", {
            let without = with(|i| i.nodes.retain(|n| n.id != id("replica-1")));
            let Decision::Denied(denied) = decided_on("replica-1", &approving_inputs(), &without) else {
                panic!("approved a missing candidate")
            };
            denied.conclude().1.explain()
        }),
        (
            "candidate_not_replica",
            r1(with(|i| node_mut(i, "replica-1").replication = ReplicationState::Uninitialized)),
        ),
        (
            "candidate_halted",
            r1(with(|i| {
                node_mut(i, "replica-1").replication =
                    ReplicationState::ReplicationHalted { reason: HaltReason::WalGap }
            })),
        ),
        ("no_authority", r1(with(|i| i.authority = None))),
        (
            "epoch_exhausted",
            r1(with(|i| {
                i.authority = Some(AuthorityView::new(id("primary-0"), top.clone()));
                for n in &mut i.nodes {
                    n.history = Some(top.clone());
                    n.position = pos(Epoch::MAX.get(), 150);
                }
                i.acknowledged = Some(pos(Epoch::MAX.get(), 150));
            })),
        ),
        (
            "duplicate_node",
            r1(with(|i| {
                let twin = node_mut(i, "replica-2").clone();
                i.nodes.push(twin)
            })),
        ),
        ("candidate_is_primary", {
            let switched = with(|i| i.authority.as_mut().unwrap().primary = id("replica-1"));
            let Decision::Denied(denied) = decided_on("replica-1", &approving_inputs(), &switched) else {
                panic!("approved the primary")
            };
            denied.conclude().1.explain()
        }),
        (
            "second_primary",
            r1(with(|i| node_mut(i, "replica-2").replication = ReplicationState::PrimaryActive)),
        ),
        (
            "candidate_ahead",
            r1(with(|i| {
                let c = node_mut(i, "replica-1");
                c.history = Some(history(&[(1, 0), (2, 100), (3, 140)]));
                c.position = pos(3, 150);
            })),
        ),
        (
            "node_ahead",
            r1(with(|i| {
                let other = node_mut(i, "replica-2");
                other.history = Some(history(&[(1, 0), (2, 100), (3, 110)]));
                other.position = pos(3, 130);
            })),
        ),
        ("old_primary_active", r1(with(|i| i.old_primary = OldPrimary::KnownActive))),
        ("old_primary_unknown", r1(with(|i| i.old_primary = OldPrimary::Unknown))),
        ("acknowledged_unknown", r1(with(|i| i.acknowledged = None))),
        (
            "acknowledged_underivable",
            r1(with(|i| {
                i.acknowledged = None;
                let rule: SyncRule = "ANY 1 (replica-1, replica-3)".parse().unwrap();
                i.report = Some(
                    PrimaryReport::new(Epoch::new(2), id("primary-0")).with_synchronous(vec![rule]).unwrap(),
                );
            })),
        ),
        (
            "acknowledged_ambiguous",
            r1(with(|i| {
                i.acknowledged = None;
                let rule: SyncRule = "ANY 1 (replica-1, replica-2, Replica-1)".parse().unwrap();
                i.report = Some(
                    PrimaryReport::new(Epoch::new(2), id("primary-0")).with_synchronous(vec![rule]).unwrap(),
                );
            })),
        ),
        ("candidate_behind", denied("replica-2", &approving_inputs())),
        ("acknowledged_past_epoch_end", r1(with(|i| i.acknowledged = Some(pos(1, 150))))),
        (
            "acknowledged_epoch_missing",
            r1(with(|i| {
                i.authority = Some(AuthorityView::new(id("primary-0"), history(&[(1, 0), (3, 100)])));
                node_mut(i, "replica-1").history = Some(history(&[(1, 0), (3, 100)]));
                node_mut(i, "replica-1").position = pos(3, 150);
                i.acknowledged = Some(pos(2, 120));
            })),
        ),
        ("acknowledged_before_epoch_start", r1(with(|i| i.acknowledged = Some(pos(2, 50))))),
        (
            "position_off_history",
            r1(with(|i| {
                let c = node_mut(i, "replica-1");
                c.position = pos(2, 50);
                c.mvcc = Some(MvccBoundary::at_rest(Lsn::new(50)));
                i.acknowledged = Some(pos(1, 40));
            })),
        ),
        ("history_unknown", r1(with(|i| node_mut(i, "replica-1").history = None))),
        (
            "history_diverged",
            r1(with(|i| node_mut(i, "replica-1").history = Some(history(&[(1, 0), (2, 90)])))),
        ),
        (
            "position_epoch_unknown",
            r1(with(|i| {
                // The authority retains only epoch 2 on; the candidate stopped in epoch 1.
                i.authority = Some(AuthorityView::new(id("primary-0"), history(&[(2, 100)])));
                i.acknowledged = Some(pos(1, 90));
                let c = node_mut(i, "replica-1");
                c.history = Some(history(&[(1, 0)]));
                c.position = pos(1, 90);
                c.mvcc = Some(MvccBoundary::at_rest(Lsn::new(90)));
            })),
        ),
        (
            "position_epoch_not_on_own_history",
            r1(with(|i| node_mut(i, "replica-1").history = Some(history(&[(1, 0)])))),
        ),
        (
            "behind_switch_point",
            r1(with(|i| {
                i.acknowledged = Some(pos(1, 90));
                let c = node_mut(i, "replica-1");
                c.history = Some(history(&[(1, 0)]));
                c.position = pos(1, 90);
                c.mvcc = Some(MvccBoundary::at_rest(Lsn::new(90)));
            })),
        ),
        ("mvcc_unknown", r1(with(|i| node_mut(i, "replica-1").mvcc = None))),
        (
            "partial_commit_visible",
            r1(with(|i| {
                let commit = PartialCommit { commit_lsn: Lsn::new(150), applied: 2, total: 5 };
                node_mut(i, "replica-1").mvcc =
                    Some(MvccBoundary { visible_commit: Lsn::new(140), applying: Some(commit) });
            })),
        ),
        (
            "mvcc_inconsistent",
            r1(with(|i| {
                let commit = PartialCommit { commit_lsn: Lsn::new(900), applied: 5, total: 5 };
                node_mut(i, "replica-1").mvcc =
                    Some(MvccBoundary { visible_commit: Lsn::new(140), applying: Some(commit) });
            })),
        ),
        (
            "phantom_commit",
            r1(with(|i| node_mut(i, "replica-1").mvcc = Some(MvccBoundary::at_rest(Lsn::new(170))))),
        ),
    ]
}

#[test]
fn every_denial_reason_has_a_golden_explanation() {
    let scenarios = denial_scenarios();
    for (name, explanation) in &scenarios {
        golden(&format!("denied_{name}"), explanation);
    }
    let mut reasons: Vec<&str> = scenarios.iter().map(|(_, e)| e.reason.as_str()).collect();
    reasons.sort_unstable();
    reasons.dedup();
    // One per DenialReason variant (28), PositionOffHistory twice: an epoch missing, a start after.
    assert_eq!(reasons.len(), 29, "one distinct reason per DenialReason variant");
    // The failing line names the invariant the verdict names, and every refusal shows what it
    // compared (P6-O2).
    for (name, explanation) in &scenarios {
        let violated = explanation.invariant_violated.unwrap();
        let failing = explanation.checks.iter().find(|c| !c.passed).unwrap();
        assert!(failing.invariants.contains(&violated), "{name}: {failing:?} lacks {violated}");
        assert!(!failing.compared.is_empty(), "{name}");
    }
}

#[test]
fn a_success_is_explained_with_every_check_and_the_new_authority() {
    let mut store = MemoryStore::default();
    let record = store.bootstrap(id("primary-0")).unwrap();
    let inputs = caught_up_inputs(&record, id("replica-1"), 40);
    let req = PromotionRequest::builder("replica-1")
        .reason("primary host lost")
        .request_id("op-1")
        .build()
        .unwrap();
    let explanation = attempt(&mut store, req, &inputs, PromotionPolicy::Enabled);
    assert_eq!(explanation.outcome, Outcome::Promoted);
    assert_eq!(explanation.checks.len(), 7);
    assert_eq!(explanation.invariant_violated, None);
    golden("promoted", &explanation);
}

/// Approved on evidence alone: the bound derived from the primary's reported rule over the
/// observed standbys, the old primary stopped by its agent's statement; the record keeps both.
#[test]
fn a_promotion_on_reported_evidence_says_where_each_fact_came_from() {
    let mut store = MemoryStore::default();
    let record = store.bootstrap(id("primary-0")).unwrap();
    let other = NodeView::new(
        id("replica-2"),
        ReplicationState::ReplicaActive,
        WalPosition::new(Epoch::new(1), Lsn::new(30)),
    )
    .with_history(record.epoch_history().clone());
    let report = PrimaryReport::new(record.epoch(), id("primary-0"))
        .with_synchronous(vec!["ANY 1 (replica-1, replica-2)".parse().unwrap()])
        .unwrap()
        .with_stopped(Stopped { checkpoint: WalPosition::new(Epoch::new(1), Lsn::new(35)), clean: false });
    // Kept beside the authority, as its agent keeps it: the commit rests on it.
    store.swap_report(None, &report).unwrap();
    let mut inputs = caught_up_inputs(&record, id("replica-1"), 40)
        .with_old_primary(OldPrimary::Unknown)
        .with_node(other)
        .with_report(report);
    inputs.acknowledged = None;
    let explanation = attempt(&mut store, request("replica-1"), &inputs, PromotionPolicy::Enabled);
    assert_eq!(explanation.outcome, Outcome::Promoted, "{explanation}");
    let kept = store.load().unwrap().unwrap();
    let evidence = kept.request().and_then(|r| r.evidence).unwrap();
    assert_eq!(evidence.acknowledged, WalPosition::new(Epoch::new(1), Lsn::new(40)));
    assert_eq!(evidence.acknowledged_from, AcknowledgedSource::Derived { node: id("replica-1") });
    assert_eq!(evidence.old_primary_from, OldPrimarySource::Agent);
    golden("promoted_on_evidence", &explanation);
}

#[test]
fn a_forced_promotion_says_so() {
    let mut store = MemoryStore::default();
    let record = store.bootstrap(id("primary-0")).unwrap();
    let inputs = caught_up_inputs(&record, id("replica-1"), 40).with_old_primary(OldPrimary::Unknown);
    let explanation = attempt(&mut store, forced("replica-1"), &inputs, PromotionPolicy::Enabled);
    assert!(matches!(
        explanation.authority,
        AuthorityAfter::Changed { force: Force::CarriedTheDecision, .. }
    ));
    assert!(explanation.reason.contains("operator's assertion"), "{}", explanation.reason);
    golden("promoted_forced", &explanation);
}

#[test]
fn rejections_are_explained() {
    let mut store = MemoryStore::default();
    let record = store.bootstrap(id("primary-0")).unwrap();
    let inputs = caught_up_inputs(&record, id("replica-1"), 40);
    golden(
        "rejected_disabled",
        &attempt(&mut store, request("replica-1"), &inputs, PromotionPolicy::Disabled),
    );
    golden(
        "rejected_unknown_candidate",
        &attempt(&mut store, request("replica-7"), &inputs, PromotionPolicy::Enabled),
    );
    golden(
        "rejected_already_primary",
        &attempt(&mut store, request("primary-0"), &inputs, PromotionPolicy::Enabled),
    );
    let _holder = recover(&store)
        .unwrap()
        .steady
        .request(request("replica-1"))
        .begin_validation(PromotionPolicy::Enabled, &inputs)
        .unwrap();
    golden(
        "rejected_in_progress",
        &attempt(&mut store, request("replica-1"), &inputs, PromotionPolicy::Enabled),
    );
}

#[test]
fn a_cas_conflict_and_a_commit_fault_are_explained() {
    let mut store = MemoryStore::default();
    let record = store.bootstrap(id("primary-0")).unwrap();
    let stale = caught_up_inputs(&record, id("replica-1"), 40);
    attempt(
        &mut store,
        request("replica-2"),
        &caught_up_inputs(&record, id("replica-2"), 40),
        PromotionPolicy::Enabled,
    );
    let conflict = attempt(&mut store, request("replica-1"), &stale, PromotionPolicy::Enabled);
    assert_eq!(conflict.outcome, Outcome::Conflict);
    assert_eq!(conflict.authority, AuthorityAfter::Unchanged);
    golden("conflict", &conflict);

    let mut failing = FailingCommits::default();
    failing.bootstrap(id("primary-0")).unwrap();
    let fault = attempt(&mut failing, request("replica-1"), &stale, PromotionPolicy::Enabled);
    assert_eq!(fault.authority, AuthorityAfter::DecidedByRecovery);
    golden("commit_fault", &fault);
}

#[test]
fn a_dry_run_is_explained_without_changing_anything() {
    let explanation = PromotionExplanation::of_assessment(
        &request("replica-1"),
        &assess(PromotionPolicy::Enabled, &request("replica-1"), &approving_inputs()),
    );
    assert_eq!(explanation.outcome, Outcome::WouldApprove);
    golden("dry_run_would_approve", &explanation);
}

#[test]
fn identical_inputs_give_byte_identical_explanations() {
    let first: Vec<String> =
        denial_scenarios().iter().map(|(_, e)| format!("{e}{}", e.to_json().unwrap())).collect();
    let second: Vec<String> =
        denial_scenarios().iter().map(|(_, e)| format!("{e}{}", e.to_json().unwrap())).collect();
    assert_eq!(first, second);
}

#[test]
fn the_denial_explanation_matches_the_dry_run() {
    let inputs = approving_inputs();
    let dry = PromotionExplanation::of_assessment(
        &request("replica-2"),
        &assess(PromotionPolicy::Enabled, &request("replica-2"), &inputs),
    );
    assert_eq!(dry, denied("replica-2", &inputs));
}
