//! Validator (stage 6.3): each check passes, fails, and is the one that flips the verdict.
//!
//! Each "only" test mutates the approving fixture so that exactly the named check fails and
//! asserts the verdict is that check's denial: with the check removed, the verdict would be an
//! approval and the test would fail.

mod common;

use aerodb_core::*;
use aerodb_promotion::*;
use common::*;

fn assert_only(inputs: &ValidationInputs, req: &PromotionRequest, check: CheckId, reason: DenialReason) {
    let assessment = assess(PromotionPolicy::Enabled, req, inputs);
    assert_eq!(failed(&assessment), vec![check], "{assessment:#?}");
    assert_eq!(denial(&assessment), Some(reason));
    let invariant = reason.invariant();
    assert!(
        check.invariants().contains(&invariant) || invariant == Invariant::P6F1,
        "{reason:?} cites {invariant}"
    );
}

#[test]
fn the_fixture_passes_every_check_in_order() {
    let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &approving_inputs());
    let order: Vec<_> = assessment.checks.iter().map(|c| c.check).collect();
    assert_eq!(order, CheckId::ALL);
    assert!(assessment.checks.iter().all(CheckRecord::passed));
    let Verdict::Approve(plan) = assessment.verdict else { panic!("fixture must approve") };
    assert_eq!(plan.basis_epoch, Epoch::new(2));
    assert_eq!(plan.new_epoch, Epoch::new(3));
    assert_eq!(plan.primary, id("replica-1"));
    assert_eq!(plan.previous_primary, id("primary-0"));
    assert_eq!(plan.start, pos(2, 150));
    assert_eq!(plan.history, history(&[(1, 0), (2, 100), (3, 150)]));
    assert!(!plan.force_asserted());
}

// 1. candidate_role (P6-A3)

#[test]
fn only_candidate_role_each_halt_reason_is_its_own_denial() {
    for reason in HaltReason::ALL {
        let mut inputs = approving_inputs();
        node_mut(&mut inputs, "replica-1").replication = ReplicationState::ReplicationHalted { reason };
        assert_only(
            &inputs,
            &request("replica-1"),
            CheckId::CandidateRole,
            DenialReason::CandidateHalted { reason },
        );
    }
}

#[test]
fn only_candidate_role_not_a_replica() {
    for (state, role) in [
        (ReplicationState::Uninitialized, RoleKind::Uninitialized),
        (ReplicationState::Disabled, RoleKind::Disabled),
    ] {
        let mut inputs = approving_inputs();
        node_mut(&mut inputs, "replica-1").replication = state;
        assert_only(
            &inputs,
            &request("replica-1"),
            CheckId::CandidateRole,
            DenialReason::CandidateNotReplica { role },
        );
    }
}

/// Screening saw the candidate; the inputs given to `decide` do not describe it (P6-F1).
#[test]
fn a_candidate_missing_from_the_inputs_fails_every_candidate_check() {
    let mut without = approving_inputs();
    without.nodes.retain(|n| n.id != id("replica-1"));
    let Decision::Denied(denied) = decided_on("replica-1", &approving_inputs(), &without) else {
        panic!("approved a missing candidate")
    };
    let failed: Vec<CheckId> =
        denied.denial().checks().iter().filter(|c| !c.passed()).map(|c| c.check).collect();
    assert_eq!(
        failed,
        [CheckId::CandidateRole, CheckId::CandidateCaughtUp, CheckId::WalPrefix, CheckId::CommitBoundary]
    );
    assert_eq!(denied.denial().reason(), DenialReason::CandidateMissing);
    let _ = denied.conclude();
}

/// P6-A1: inputs given to `decide` that name the candidate as the recorded primary deny, even
/// though screening (on other inputs) passed. (Before, this approved a "promotion" of the
/// primary over itself.)
#[test]
fn deciding_on_inputs_where_the_candidate_is_primary_denies() {
    let mut switched = approving_inputs();
    switched.authority.as_mut().unwrap().primary = id("replica-1");
    let Decision::Denied(denied) = decided_on("replica-1", &approving_inputs(), &switched) else {
        panic!("approved the primary")
    };
    assert_eq!(
        denied.denial().reason(),
        DenialReason::CandidateIsPrimary { candidate: id("replica-1"), epoch: Epoch::new(2) }
    );
    let _ = denied.conclude();
}

/// The dry run refuses exactly what the real attempt refuses before validation: a disabled
/// policy, an unknown candidate, the current primary (it used to approve the first and last).
#[test]
fn a_dry_run_rejects_what_the_real_attempt_rejects() {
    let inputs = approving_inputs();
    for (policy, candidate) in [
        (PromotionPolicy::Disabled, "replica-1"),
        (PromotionPolicy::Enabled, "replica-9"),
        (PromotionPolicy::Enabled, "primary-0"),
    ] {
        let dry = assess(policy, &request(candidate), &inputs);
        let slot = PromotionSlot::new();
        let real = Promotion::new(&slot).request(request(candidate)).begin_validation(policy, &inputs);
        let Err(rejected) = real else { panic!("{candidate} was not rejected") };
        assert_eq!(dry.verdict, Verdict::Reject(rejected.rejection.clone()), "{policy} {candidate}");
        assert!(dry.checks.is_empty());
        assert_eq!(PromotionExplanation::of_assessment(&request(candidate), &dry), rejected.explain());
    }
}

// 2. authority_unambiguous (P6-A1, P6-F1)

#[test]
fn only_authority_a_second_primary_is_visible() {
    let mut inputs = approving_inputs();
    node_mut(&mut inputs, "replica-2").replication = ReplicationState::PrimaryActive;
    assert_only(
        &inputs,
        &request("replica-1"),
        CheckId::AuthorityUnambiguous,
        DenialReason::SecondPrimary { node: id("replica-2"), primary: id("primary-0") },
    );
}

#[test]
fn only_authority_a_node_described_twice() {
    let mut inputs = approving_inputs();
    let twin = node_mut(&mut inputs, "replica-2").clone();
    inputs.nodes.push(twin);
    assert_only(
        &inputs,
        &request("replica-1"),
        CheckId::AuthorityUnambiguous,
        DenialReason::DuplicateNode { node: id("replica-2") },
    );
}

#[test]
fn no_authority_record_denies_fail_closed() {
    let mut inputs = approving_inputs();
    inputs.authority = None;
    let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
    assert_eq!(failed(&assessment), [CheckId::AuthorityUnambiguous, CheckId::WalPrefix]);
    assert_eq!(denial(&assessment), Some(DenialReason::NoAuthority));
    assert_eq!(DenialReason::NoAuthority.invariant(), Invariant::P6F1);
}

#[test]
fn a_candidate_ahead_of_the_authority_is_ambiguous_authority() {
    let mut inputs = approving_inputs();
    inputs.acknowledged = Some(pos(2, 140));
    let candidate = node_mut(&mut inputs, "replica-1");
    candidate.history = Some(history(&[(1, 0), (2, 100), (3, 140)]));
    candidate.position = pos(3, 150);
    let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
    assert_eq!(failed(&assessment), [CheckId::AuthorityUnambiguous, CheckId::WalPrefix]);
    assert_eq!(
        denial(&assessment),
        Some(DenialReason::CandidateAhead { epoch: Epoch::new(3), authority: Epoch::new(2) })
    );
}

/// P6-A1: any node knowing an epoch newer than the record — by its history or its position —
/// means a newer authority may exist (a restored or rolled-back record): deny, naming it.
#[test]
fn another_node_ahead_of_the_authority_is_ambiguous_authority() {
    let cases = [
        (history(&[(1, 0), (2, 100), (3, 160)]), pos(3, 170)),
        (history(&[(1, 0), (2, 100), (3, 160)]), pos(2, 140)),
        (history(&[(1, 0), (2, 100)]), pos(9, 10)),
    ];
    for (hist, position) in cases {
        let mut inputs = approving_inputs();
        let other = node_mut(&mut inputs, "replica-2");
        other.history = Some(hist.clone());
        other.position = position;
        let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
        assert_eq!(failed(&assessment)[0], CheckId::AuthorityUnambiguous, "{position}");
        let Some(DenialReason::NodeAhead { node, authority, .. }) = denial(&assessment) else {
            panic!("{position}: {:?}", assessment.verdict)
        };
        assert_eq!((node, authority), (id("replica-2"), Epoch::new(2)));
    }
    // The old primary's own view counts too, halted or not.
    let mut inputs = approving_inputs();
    node_mut(&mut inputs, "primary-0").position = pos(5, 900);
    let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
    assert!(matches!(denial(&assessment), Some(DenialReason::NodeAhead { .. })), "{:?}", assessment.verdict);
}

#[test]
fn an_exhausted_epoch_cannot_be_raised() {
    let mut inputs = approving_inputs();
    let top = history(&[(Epoch::MAX.get(), 0)]);
    inputs.authority = Some(AuthorityView::new(id("primary-0"), top.clone()));
    for node in &mut inputs.nodes {
        node.history = Some(top.clone());
        node.position = pos(Epoch::MAX.get(), 150);
    }
    inputs.acknowledged = Some(pos(Epoch::MAX.get(), 150));
    let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
    assert_eq!(denial(&assessment), Some(DenialReason::EpochExhausted { epoch: Epoch::MAX }));
}

/// P6-A1, one epoch range: the validator never approves an epoch a write gate cannot take.
/// (Before the range was one, an authority at 2^62 − 1 was approved to 2^62.)
#[test]
fn the_last_approvable_epoch_is_the_largest_a_gate_holds() {
    let below = Epoch::new(Epoch::MAX.get() - 1);
    let mut inputs = approving_inputs();
    let top = history(&[(below.get(), 0)]);
    inputs.authority = Some(AuthorityView::new(id("primary-0"), top.clone()));
    for node in &mut inputs.nodes {
        node.history = Some(top.clone());
        node.position = pos(below.get(), 150);
    }
    inputs.acknowledged = Some(pos(below.get(), 150));
    match assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs).verdict {
        Verdict::Approve(plan) => {
            assert_eq!(plan.new_epoch, Epoch::MAX);
            assert!(plan.new_epoch <= MAX_GATE_EPOCH, "a gate holds the epoch");
        }
        other => panic!("{other:?}"),
    }
}

/// P6-S1: an acknowledged write in an earlier epoch that the candidate's own history ended
/// before is not held, although `2/120 > 1/150` epoch-first.
#[test]
fn an_acknowledged_position_past_the_candidates_epoch_end_denies() {
    let mut inputs = approving_inputs();
    inputs.acknowledged = Some(pos(1, 150));
    let candidate = node_mut(&mut inputs, "replica-1");
    assert_eq!(
        (candidate.position, candidate.history.clone()),
        (pos(2, 150), Some(history(&[(1, 0), (2, 100)])))
    );
    let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
    assert_eq!(failed(&assessment), [CheckId::CandidateCaughtUp]);
    assert_eq!(
        denial(&assessment),
        Some(DenialReason::AcknowledgedPastEpochEnd { end: pos(1, 100), acknowledged: pos(1, 150) })
    );
}

/// P6-S1, P6-F1: without the candidate's history nothing is placed, not even in its own epoch,
/// whose start is unknown: `2/50` might lie on another branch of epoch 2.
#[test]
fn without_a_history_nothing_is_placed() {
    let mut inputs = approving_inputs();
    node_mut(&mut inputs, "replica-1").history = None;
    for acknowledged in [pos(1, 10), pos(2, 50), pos(2, 150), pos(2, 151)] {
        inputs.acknowledged = Some(acknowledged);
        let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
        assert_eq!(assessment.checks[4].failure, Some(DenialReason::HistoryUnknown), "{acknowledged}");
    }
}

/// P6-S1: an acknowledged epoch the candidate's history never included denies.
#[test]
fn an_acknowledged_epoch_the_candidate_never_had_denies() {
    let mut inputs = approving_inputs();
    inputs.acknowledged = Some(pos(3, 10));
    let candidate = node_mut(&mut inputs, "replica-1");
    candidate.history = Some(history(&[(1, 0), (2, 100), (4, 140)]));
    candidate.position = pos(4, 150);
    let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
    assert!(failed(&assessment).contains(&CheckId::CandidateCaughtUp), "{:?}", failed(&assessment));
    assert_eq!(
        assessment.checks[4].failure,
        Some(DenialReason::AcknowledgedEpochMissing { epoch: Epoch::new(3), acknowledged: pos(3, 10) })
    );
}

/// P6-S3, P6-F1: an MVCC summary that contradicts the WAL is unknown input and denies.
#[test]
fn an_inconsistent_mvcc_summary_denies() {
    for commit in [
        PartialCommit { commit_lsn: Lsn::new(151), applied: 1, total: 1 },
        PartialCommit { commit_lsn: Lsn::new(149), applied: 3, total: 2 },
    ] {
        let mut inputs = approving_inputs();
        node_mut(&mut inputs, "replica-1").mvcc =
            Some(MvccBoundary { visible_commit: Lsn::new(140), applying: Some(commit) });
        let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
        assert_eq!(failed(&assessment), [CheckId::CommitBoundary]);
        assert_eq!(
            denial(&assessment),
            Some(DenialReason::MvccInconsistent { commit, wal_end: Lsn::new(150) })
        );
    }
}

// 3. old_primary_inactive (P6-A1, P6-A1a)

#[test]
fn only_old_primary_known_active_denies_even_with_force() {
    for req in [request("replica-1"), forced("replica-1")] {
        let mut inputs = approving_inputs();
        inputs.old_primary = OldPrimary::KnownActive;
        assert_only(
            &inputs,
            &req,
            CheckId::OldPrimaryInactive,
            DenialReason::OldPrimaryActive { primary: id("primary-0") },
        );
    }
}

#[test]
fn only_old_primary_seen_as_primary_active_overrides_a_stopped_report() {
    for req in [request("replica-1"), forced("replica-1")] {
        let mut inputs = approving_inputs();
        node_mut(&mut inputs, "primary-0").replication = ReplicationState::PrimaryActive;
        assert_only(
            &inputs,
            &req,
            CheckId::OldPrimaryInactive,
            DenialReason::OldPrimaryActive { primary: id("primary-0") },
        );
    }
}

#[test]
fn only_old_primary_unknown_without_force() {
    let mut inputs = approving_inputs();
    inputs.old_primary = OldPrimary::Unknown;
    assert_only(&inputs, &request("replica-1"), CheckId::OldPrimaryInactive, DenialReason::OldPrimaryUnknown);
}

#[test]
fn unknown_old_primary_passes_with_force_and_the_plan_records_it() {
    let mut inputs = approving_inputs();
    inputs.old_primary = OldPrimary::Unknown;
    let Verdict::Approve(plan) = assess(PromotionPolicy::Enabled, &forced("replica-1"), &inputs).verdict
    else {
        panic!("force must pass")
    };
    assert!(plan.force_asserted());
    // Force is recorded as asserted only when it was needed.
    let Verdict::Approve(plan) =
        assess(PromotionPolicy::Enabled, &forced("replica-1"), &approving_inputs()).verdict
    else {
        panic!()
    };
    assert!(!plan.force_asserted());
}

#[test]
fn a_fenced_old_primary_passes() {
    let mut inputs = approving_inputs();
    inputs.old_primary = OldPrimary::Fenced;
    assert!(matches!(
        assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs).verdict,
        Verdict::Approve(_)
    ));
}

// 4. acknowledged_known (P6-S1, P6-F1) and 5. candidate_caught_up (P6-S1)

#[test]
fn unknown_acknowledged_position_denies() {
    let mut inputs = approving_inputs();
    inputs.acknowledged = None;
    let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
    assert_eq!(failed(&assessment), [CheckId::AcknowledgedKnown, CheckId::CandidateCaughtUp]);
    assert_eq!(denial(&assessment), Some(DenialReason::AcknowledgedUnknown));
}

#[test]
fn only_caught_up_a_stale_replica_is_denied() {
    assert_only(
        &approving_inputs(),
        &request("replica-2"),
        CheckId::CandidateCaughtUp,
        DenialReason::CandidateBehind { candidate: pos(2, 120), acknowledged: pos(2, 150) },
    );
}

#[test]
fn a_replica_exactly_at_the_acknowledged_position_passes() {
    let mut inputs = approving_inputs();
    inputs.acknowledged = Some(pos(2, 120));
    assert!(matches!(
        assess(PromotionPolicy::Enabled, &request("replica-2"), &inputs).verdict,
        Verdict::Approve(_)
    ));
}

// 6. wal_prefix (P6-S2)

#[test]
fn an_unknown_history_fails_caught_up_and_prefix() {
    let mut inputs = approving_inputs();
    node_mut(&mut inputs, "replica-1").history = None;
    let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
    assert_eq!(failed(&assessment), [CheckId::CandidateCaughtUp, CheckId::WalPrefix]);
    assert_eq!(denial(&assessment), Some(DenialReason::HistoryUnknown));
}

#[test]
fn only_wal_prefix_diverged_history_says_where() {
    let mut inputs = approving_inputs();
    node_mut(&mut inputs, "replica-1").history = Some(history(&[(1, 0), (2, 90)]));
    assert_only(
        &inputs,
        &request("replica-1"),
        CheckId::WalPrefix,
        DenialReason::HistoryDiverged { epoch: Epoch::new(2), at: Lsn::new(90) },
    );
}

#[test]
fn only_wal_prefix_a_replica_short_of_the_current_switch_point() {
    let mut inputs = approving_inputs();
    inputs.acknowledged = Some(pos(1, 90));
    let candidate = node_mut(&mut inputs, "replica-1");
    candidate.history = Some(history(&[(1, 0)]));
    candidate.position = pos(1, 90);
    candidate.mvcc = Some(MvccBoundary::at_rest(Lsn::new(90)));
    assert_only(
        &inputs,
        &request("replica-1"),
        CheckId::WalPrefix,
        DenialReason::BehindSwitchPoint {
            epoch: Epoch::new(2),
            start: Lsn::new(100),
            candidate: Lsn::new(90),
        },
    );
}

#[test]
fn a_position_outside_the_candidates_own_history_is_denied() {
    let mut inputs = approving_inputs();
    node_mut(&mut inputs, "replica-1").history = Some(history(&[(1, 0)]));
    let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
    assert!(failed(&assessment).contains(&CheckId::WalPrefix));
    let contradiction =
        DenialReason::PositionOffHistory { off: OffHistory::EpochMissing { epoch: Epoch::new(2) } };
    assert_eq!(assessment.checks[5].failure, Some(contradiction));
    assert_eq!(assessment.verdict, Verdict::Deny(contradiction));
    assert_eq!(contradiction.invariant(), Invariant::P6F1);
}

/// P6-S1: the case. On `[1@0, 2@100]` no position `2/50` exists: it was written on
/// another branch of epoch 2 (or the input contradicts itself), so the candidate lacks it.
#[test]
fn an_acknowledged_position_before_its_epochs_start_is_denied() {
    let mut inputs = approving_inputs();
    node_mut(&mut inputs, "replica-1").position = pos(2, 120);
    node_mut(&mut inputs, "replica-1").mvcc = Some(MvccBoundary::at_rest(Lsn::new(120)));
    for lsn in [0, 50, 99] {
        inputs.acknowledged = Some(pos(2, lsn));
        assert_only(
            &inputs,
            &request("replica-1"),
            CheckId::CandidateCaughtUp,
            DenialReason::AcknowledgedBeforeEpochStart { start: pos(2, 100), acknowledged: pos(2, lsn) },
        );
    }
    // The switch point itself is held, under either of its names.
    for acknowledged in [pos(2, 100), pos(1, 100)] {
        inputs.acknowledged = Some(acknowledged);
        let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
        assert!(
            matches!(assessment.verdict, Verdict::Approve(_)),
            "{acknowledged}: {:?}",
            assessment.verdict
        );
    }
}

/// P6-F1: a candidate whose own position is off its own history contradicts itself, on either
/// side of its epoch's range; every check that reads the position says so.
#[test]
fn a_candidate_position_off_its_own_history_is_contradictory() {
    for (position, off) in [
        (pos(2, 50), OffHistory::BeforeStart { position: pos(2, 50), start: Lsn::new(100) }),
        (pos(1, 120), OffHistory::PastEnd { position: pos(1, 120), end: Lsn::new(100) }),
    ] {
        let mut inputs = approving_inputs();
        inputs.acknowledged = Some(pos(1, 40));
        let candidate = node_mut(&mut inputs, "replica-1");
        candidate.position = position;
        candidate.mvcc = Some(MvccBoundary::at_rest(position.lsn));
        let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
        let reason = DenialReason::PositionOffHistory { off };
        assert_eq!(assessment.verdict, Verdict::Deny(reason), "{position}");
        assert_eq!(failed(&assessment), vec![CheckId::CandidateCaughtUp, CheckId::WalPrefix], "{position}");
    }
}

/// A candidate at a switch point may name it by either epoch: `1/100` on `[1@0, 2@100]` is the
/// same WAL as `2/100`, and both continue the authority.
#[test]
fn a_candidate_at_the_switch_point_is_approved_under_either_name() {
    for position in [pos(1, 100), pos(2, 100)] {
        let mut inputs = approving_inputs();
        inputs.acknowledged = Some(pos(1, 100));
        let candidate = node_mut(&mut inputs, "replica-1");
        candidate.position = position;
        candidate.mvcc = Some(MvccBoundary::at_rest(Lsn::new(100)));
        let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
        let Verdict::Approve(plan) = assessment.verdict else {
            panic!("{position}: {:?}", assessment.verdict)
        };
        assert_eq!(plan.history, history(&[(1, 0), (2, 100), (3, 100)]));
    }
}

// 7. commit_boundary (P6-S3)

#[test]
fn only_commit_boundary_unknown_mvcc() {
    let mut inputs = approving_inputs();
    node_mut(&mut inputs, "replica-1").mvcc = None;
    assert_only(&inputs, &request("replica-1"), CheckId::CommitBoundary, DenialReason::MvccUnknown);
}

#[test]
fn only_commit_boundary_partial_commit() {
    let mut inputs = approving_inputs();
    let commit = PartialCommit { commit_lsn: Lsn::new(150), applied: 2, total: 5 };
    node_mut(&mut inputs, "replica-1").mvcc =
        Some(MvccBoundary { visible_commit: Lsn::new(140), applying: Some(commit) });
    assert_only(
        &inputs,
        &request("replica-1"),
        CheckId::CommitBoundary,
        DenialReason::PartialCommitVisible { commit },
    );
}

#[test]
fn only_commit_boundary_phantom_commit() {
    let mut inputs = approving_inputs();
    node_mut(&mut inputs, "replica-1").mvcc = Some(MvccBoundary::at_rest(Lsn::new(170)));
    assert_only(
        &inputs,
        &request("replica-1"),
        CheckId::CommitBoundary,
        DenialReason::PhantomCommit { visible_commit: Lsn::new(170), wal_end: Lsn::new(150) },
    );
}

// Determinism (P6-D1) and the order of reasons.

#[test]
fn same_inputs_give_equal_assessments_and_identical_renderings() {
    let mut inputs = approving_inputs();
    node_mut(&mut inputs, "replica-2").replication = ReplicationState::PrimaryActive;
    inputs.acknowledged = None;
    let a = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
    let b = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs.clone());
    assert_eq!(a, b);
    assert_eq!(format!("{:?}", a.checks), format!("{:?}", b.checks));
    let mut reversed = inputs.clone();
    reversed.nodes.reverse();
    assert_eq!(
        assess(PromotionPolicy::Enabled, &request("replica-1"), &reversed),
        a,
        "node order must not matter"
    );
}

#[test]
fn the_first_failed_check_is_the_primary_reason_and_all_checks_still_run() {
    let mut inputs = approving_inputs();
    inputs.old_primary = OldPrimary::KnownActive;
    node_mut(&mut inputs, "replica-1").mvcc = None;
    let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &inputs);
    assert_eq!(assessment.checks.len(), 7);
    assert_eq!(failed(&assessment), [CheckId::OldPrimaryInactive, CheckId::CommitBoundary]);
    assert_eq!(denial(&assessment), Some(DenialReason::OldPrimaryActive { primary: id("primary-0") }));
}

#[test]
fn every_check_records_what_it_compared() {
    let assessment = assess(PromotionPolicy::Enabled, &request("replica-1"), &approving_inputs());
    let compared: Vec<String> = assessment.checks.iter().map(|c| c.compared.to_string()).collect();
    assert_eq!(compared[0], "candidate replica-1 role ReplicaActive; required ReplicaActive");
    assert_eq!(
        compared[4],
        "acknowledged 2/150 is held by the candidate's WAL ending at 2/150 (required: held, on the candidate's own history)"
    );
    assert!(compared.iter().all(|c| !c.is_empty()));
}

#[test]
fn denial_reasons_map_to_invariants() {
    assert_eq!(DenialReason::OldPrimaryUnknown.invariant(), Invariant::P6A1);
    assert_eq!(
        DenialReason::CandidateBehind { candidate: pos(1, 1), acknowledged: pos(1, 2) }.invariant(),
        Invariant::P6S1
    );
    assert_eq!(
        DenialReason::HistoryDiverged { epoch: Epoch::new(1), at: Lsn::new(0) }.invariant(),
        Invariant::P6S2
    );
    assert_eq!(DenialReason::MvccUnknown.invariant(), Invariant::P6F1);
    assert_eq!(DenialReason::CandidateHalted { reason: HaltReason::WalGap }.invariant(), Invariant::P6A3);
}
