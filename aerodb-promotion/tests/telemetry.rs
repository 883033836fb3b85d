//! Events (§6), their passivity, and metrics (stage 6.6).

mod common;

use aerodb_promotion::event_names as names;
use aerodb_promotion::testing::events::Captured;
use aerodb_promotion::testing::{MemoryStore, caught_up_inputs};
use aerodb_promotion::*;
use common::*;

fn captured<T>(run: impl FnOnce() -> T) -> (T, Vec<Captured>) {
    let capture = Capture::default();
    let result = tracing::subscriber::with_default(capture.clone(), run);
    (result, capture.take())
}

fn bootstrapped() -> (MemoryStore, ValidationInputs) {
    let mut store = MemoryStore::default();
    let record = store.bootstrap(id("primary-0")).unwrap();
    let inputs = caught_up_inputs(&record, id("replica-1"), 50);
    (store, inputs)
}

fn lagging(inputs: &ValidationInputs) -> ValidationInputs {
    inputs.clone().with_acknowledged(pos(1, 60))
}

fn sequence(events: &[Captured]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_str()).collect()
}

#[test]
fn a_success_emits_every_stage_with_its_fields() {
    init_tracing();
    let (mut store, inputs) = bootstrapped();
    let request = PromotionRequest::builder("replica-1").reason("host lost").build().unwrap();
    let (_, events) = captured(|| attempt(&mut store, request, &inputs, PromotionPolicy::Enabled));
    assert_eq!(
        sequence(&events),
        [
            names::REQUESTED,
            names::VALIDATION_STARTED,
            names::VALIDATION_SUCCEEDED,
            names::TRANSITION_STARTED,
            names::TRANSITION_COMPLETED,
            names::COMPLETED
        ]
    );
    let requested = &events[0];
    assert_eq!(requested.field("requested_replica_id"), "replica-1");
    assert_eq!(requested.field("current_primary_id"), "primary-0");
    assert_eq!(requested.field("reason"), "host lost");
    assert_eq!(requested.field("force"), "false");
    assert_eq!(requested.field("transition"), "Steady -> PromotionRequested");
    assert_eq!(requested.field("transition_reason"), "an explicit request was accepted");
    assert_eq!(requested.field("invariants"), "P6-A3,P6-F3");
    // The validation edges name exactly what the checks enforce, in spec order.
    assert_eq!(events[1].field("invariants"), "P6-A1,P6-A1a,P6-A3,P6-S1,P6-S2,P6-S3,P6-F1");
    assert_eq!(events[4].field("new_primary_id"), "replica-1");
    assert_eq!(events[4].field("epoch"), "2");
    assert_eq!(events[4].field("transition"), "AuthorityTransitioning -> PromotionSucceeded");
    assert_eq!(events[5].field("outcome"), "succeeded");
    assert_eq!(events[5].field("transition"), "PromotionSucceeded -> Steady");
    for event in &events {
        assert_eq!(event.field("event"), event.name, "the name is also a field for log pipelines");
        assert_eq!(event.field("requested_replica_id"), "replica-1");
    }
}

#[test]
fn every_one_of_the_nine_transitions_emits_an_event() {
    init_tracing();
    let (mut store, inputs) = bootstrapped();
    let mut seen = std::collections::BTreeSet::new();
    let runs = [
        (request("replica-1"), lagging(&inputs), PromotionPolicy::Enabled),
        (request("replica-1"), inputs.clone(), PromotionPolicy::Disabled),
        (request("replica-1"), inputs.clone(), PromotionPolicy::Enabled),
    ];
    for (req, inputs, policy) in runs {
        let (_, events) = captured(|| attempt(&mut store, req, &inputs, policy));
        seen.extend(events.iter().map(|e| e.field("transition").to_owned()));
    }
    let expected: std::collections::BTreeSet<String> =
        ALLOWED_TRANSITIONS.iter().map(|(f, t)| format!("{f} -> {t}")).collect();
    assert_eq!(seen, expected);
}

#[test]
fn a_denial_names_the_violated_invariant() {
    init_tracing();
    let (mut store, inputs) = bootstrapped();
    let (_, events) =
        captured(|| attempt(&mut store, request("replica-1"), &lagging(&inputs), PromotionPolicy::Enabled));
    assert_eq!(
        sequence(&events),
        [names::REQUESTED, names::VALIDATION_STARTED, names::VALIDATION_FAILED, names::COMPLETED]
    );
    assert_eq!(events[2].field("failed_invariant"), "P6-S1");
    assert_eq!(
        events[2].field("failure_reason"),
        "the candidate's WAL ends at 1/50, before the acknowledged position 1/60"
    );
    assert_eq!(events[3].field("outcome"), "denied");
}

#[test]
fn an_immediate_rejection_emits_its_failure() {
    init_tracing();
    let (mut store, inputs) = bootstrapped();
    let (_, events) =
        captured(|| attempt(&mut store, forced("replica-1"), &inputs, PromotionPolicy::Disabled));
    assert_eq!(sequence(&events), [names::REQUESTED, names::VALIDATION_FAILED, names::COMPLETED]);
    assert_eq!(events[1].field("failure_reason"), "promotion is disabled by policy");
    assert_eq!(events[1].field("failed_invariant"), "P6-F1");
    assert_eq!(events[1].field("transition"), "PromotionRequested -> Steady");
    assert!(events.iter().all(|e| e.field("force") == "true"), "force is on every request event");
}

#[test]
fn a_commit_fault_emits_aborted_on_crash() {
    init_tracing();
    let mut store = FailingCommits::default();
    let record = store.bootstrap(id("primary-0")).unwrap();
    let inputs = caught_up_inputs(&record, id("replica-1"), 50);
    let (explanation, events) =
        captured(|| attempt(&mut store, request("replica-1"), &inputs, PromotionPolicy::Enabled));
    assert_eq!(explanation.outcome, Outcome::CommitFault);
    assert_eq!(
        sequence(&events),
        [
            names::REQUESTED,
            names::VALIDATION_STARTED,
            names::VALIDATION_SUCCEEDED,
            names::TRANSITION_STARTED,
            names::ABORTED_ON_CRASH
        ]
    );
    assert_eq!(events[4].field("last_known_state"), "AuthorityTransitioning");
    assert_eq!(events[4].field("requested_replica_id"), "replica-1");
}

#[test]
fn opening_a_store_with_crash_leftovers_emits_aborted_on_crash() {
    init_tracing();
    let dir = temp_dir("observe-leftovers");
    FileAuthorityStore::open(dir.path()).unwrap().bootstrap(id("primary-0")).unwrap();
    std::fs::write(dir.path().join("metadata/authority.record.tmp"), b"partial").unwrap();
    let (store, events) = captured(|| FileAuthorityStore::open(dir.path()).unwrap());
    assert_eq!(sequence(&events), [names::ABORTED_ON_CRASH]);
    assert_eq!(events[0].field("last_known_state"), "AuthorityTransitioning");
    assert!(!events[0].fields.contains_key("requested_replica_id"), "unknown, so absent (spec: if known)");
    assert_eq!(store.slot().metrics().snapshot().crash_abort_total, 1);
}

/// The same attempts with no subscriber, a recording one and one that filters everything:
/// decisions, records and explanations are identical (events are passive).
#[test]
fn subscribers_change_no_outcome() {
    init_tracing();
    fn run() -> (Vec<String>, Vec<u8>) {
        let (mut store, inputs) = bootstrapped();
        let mut explanations = Vec::new();
        for (req, inputs, policy) in [
            (request("replica-1"), inputs.clone(), PromotionPolicy::Disabled),
            (request("replica-1"), lagging(&inputs), PromotionPolicy::Enabled),
            (forced("replica-1"), inputs.clone(), PromotionPolicy::Enabled),
        ] {
            let e = attempt(&mut store, req, &inputs, policy);
            explanations.push(format!("{e}{}", e.to_json().unwrap()));
        }
        (explanations, store.bytes().unwrap().to_vec())
    }
    let bare = run();
    let recording = Capture::default();
    let with_recording = tracing::subscriber::with_default(recording.clone(), run);
    let filtering = Capture { reject_all: true, ..Capture::default() };
    let with_filtering = tracing::subscriber::with_default(filtering.clone(), run);
    assert_eq!(bare, with_recording);
    assert_eq!(bare, with_filtering);
    assert!(recording.names().len() >= 13);
    assert!(filtering.names().is_empty());
}

#[test]
fn metrics_count_a_scripted_series_of_attempts() {
    init_tracing();
    let (mut store, inputs) = bootstrapped();
    let _ = recover(&store).unwrap();
    assert_eq!(store.slot().metrics().snapshot().current_primary.get("primary-0"), Some(&1));

    attempt(&mut store, request("replica-1"), &inputs, PromotionPolicy::Disabled);
    attempt(&mut store, request("replica-1"), &lagging(&inputs), PromotionPolicy::Enabled);
    attempt(&mut store, request("primary-0"), &inputs, PromotionPolicy::Enabled);
    attempt(&mut store, request("replica-1"), &inputs, PromotionPolicy::Enabled);
    // Validated against epoch 1, committed after epoch 2 exists: a conflict, counted as denied.
    attempt(&mut store, request("replica-1"), &inputs, PromotionPolicy::Enabled);

    let snapshot = store.slot().metrics().snapshot();
    assert_eq!(snapshot.requests_total, 5);
    assert_eq!(snapshot.success_total, 1);
    assert_eq!(snapshot.denied_total, 4);
    assert_eq!(snapshot.crash_abort_total, 0);
    assert_eq!(snapshot.in_progress, 0);
    assert_eq!(
        snapshot.current_primary.into_iter().collect::<Vec<_>>(),
        [("primary-0".to_owned(), 0), ("replica-1".to_owned(), 1)]
    );
    assert_eq!(
        store.slot().metrics().prometheus(),
        "# HELP replication_promotion_requests_total Promotion requests received.
# TYPE replication_promotion_requests_total counter
replication_promotion_requests_total 5
# HELP replication_promotion_success_total Promotions made durable.
# TYPE replication_promotion_success_total counter
replication_promotion_success_total 1
# HELP replication_promotion_denied_total Promotions denied or rejected.
# TYPE replication_promotion_denied_total counter
replication_promotion_denied_total 4
# HELP replication_promotion_crash_abort_total Promotions aborted by a crash or failed commit.
# TYPE replication_promotion_crash_abort_total counter
replication_promotion_crash_abort_total 0
# HELP replication_current_primary 1 for the replica holding write authority.
# TYPE replication_current_primary gauge
replication_current_primary{replica_id=\"primary-0\"} 0
replication_current_primary{replica_id=\"replica-1\"} 1
# HELP replication_promotion_in_progress 1 while a promotion attempt is in flight.
# TYPE replication_promotion_in_progress gauge
replication_promotion_in_progress 0
"
    );
}

#[test]
fn in_progress_is_one_while_an_attempt_holds_the_slot_and_faults_count_as_crash_aborts() {
    init_tracing();
    let mut store = FailingCommits::default();
    let record = store.bootstrap(id("primary-0")).unwrap();
    let inputs = caught_up_inputs(&record, id("replica-1"), 50);
    let validating = recover(&store)
        .unwrap()
        .steady
        .request(request("replica-1"))
        .begin_validation(PromotionPolicy::Enabled, &inputs)
        .unwrap();
    assert_eq!(store.slot().metrics().snapshot().in_progress, 1);
    let Decision::Approved(approved) = validating.decide(&inputs) else { panic!() };
    let failure = approved.begin_transition().commit(&mut store).unwrap_err();
    assert_eq!(store.slot().metrics().snapshot().crash_abort_total, 1);
    drop(failure);
    assert_eq!(store.slot().metrics().snapshot().in_progress, 0);
}

/// P6-O1, P6-O2: a compare-and-swap conflict is a certain outcome. Its events never claim the
/// commit edge, it ends with its own outcome, and recovery never calls it applied, even when a
/// rival committed exactly this attempt's plan. (It used to report `AuthorityTransitioning ->
/// PromotionSucceeded` and recover as `Applied`.)
#[test]
fn a_conflict_is_reported_as_what_happened() {
    init_tracing();
    let (mut store, inputs) = bootstrapped();
    // The loser is validated on its own slot, before the winner commits the same plan.
    let loser_slot = PromotionSlot::new();
    let validating = Promotion::new(&loser_slot)
        .request(request("replica-1"))
        .begin_validation(PromotionPolicy::Enabled, &inputs)
        .unwrap();
    let Decision::Approved(loser) = validating.decide(&inputs) else { panic!("approves") };
    let (_, winner) =
        approve(&store, "replica-1", &inputs).begin_transition().commit(&mut store).unwrap().complete();
    assert_eq!(winner.record().primary(), loser.approval().plan().primary);
    assert_eq!(winner.record().start(), loser.approval().plan().start);

    let (failure, events) = captured(|| loser.begin_transition().commit(&mut store).unwrap_err());
    assert!(failure.error().is_conflict());
    let after_commit: Vec<&Captured> =
        events.iter().skip_while(|e| e.name != names::TRANSITION_STARTED).skip(1).collect();
    assert_eq!(
        after_commit.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        [names::VALIDATION_FAILED, names::COMPLETED]
    );
    for event in &after_commit {
        assert_ne!(event.field("transition"), "AuthorityTransitioning -> PromotionSucceeded");
        assert_eq!(event.field("transition"), "AuthorityTransitioning -> none (nothing written)");
        assert!(event.field("transition_reason").contains("nothing"), "{}", event.field("transition_reason"));
    }
    assert_eq!(after_commit[1].field("outcome"), "conflict");
    assert_eq!(failure.explain().outcome, Outcome::Conflict);
    assert_eq!(failure.explain().authority, AuthorityAfter::Unchanged);
    let (recovered, resolution) = failure.recover(&store).unwrap();
    assert_eq!(resolution, Resolution::NotApplied, "this attempt wrote nothing");
    assert_eq!(recovered.authority.as_ref(), Some(winner.record()));
    let metrics = loser_slot.metrics().snapshot();
    assert_eq!((metrics.requests_total, metrics.denied_total, metrics.success_total), (1, 1, 0));
}

/// P6-O1: an attempt dropped in any state past `Steady` still ends in exactly one counted,
/// evented outcome, so requests = success + denied + aborted. (Dropped attempts used to be
/// silent and uncounted.)
#[test]
fn an_abandoned_attempt_ends_in_one_counted_outcome() {
    init_tracing();
    for stop in 1..=6 {
        let (mut store, inputs) = bootstrapped();
        let inputs = if stop == 6 { lagging(&inputs) } else { inputs };
        let (kind, events) = captured(|| {
            let requested = recover(&store).unwrap().steady.request(request("replica-1"));
            if stop == 1 {
                return requested.kind();
            }
            let validating = requested.begin_validation(PromotionPolicy::Enabled, &inputs).unwrap();
            if stop == 2 {
                return validating.kind();
            }
            let approved = match validating.decide(&inputs) {
                Decision::Approved(approved) => approved,
                Decision::Denied(denied) => return denied.kind(),
            };
            if stop == 3 {
                return approved.kind();
            }
            let transitioning = approved.begin_transition();
            if stop == 4 {
                return transitioning.kind();
            }
            transitioning.commit(&mut store).unwrap().kind()
        });
        let metrics = store.slot().metrics().snapshot();
        assert_eq!(metrics.requests_total, 1, "{kind}");
        assert_eq!(
            metrics.success_total + metrics.denied_total + metrics.crash_abort_total,
            1,
            "{kind}: exactly one outcome counted: {metrics:?}"
        );
        assert_eq!(metrics.in_progress, 0, "{kind}: the slot's gauge is back to 0");
        assert!(!store.slot().is_busy(), "{kind}: the slot is free");
        let outcomes: Vec<&str> = events
            .iter()
            .map(|e| e.name.as_str())
            .filter(|n| *n == names::COMPLETED || *n == names::ABORTED_ON_CRASH)
            .collect();
        assert_eq!(outcomes.len(), 1, "{kind}: exactly one outcome event: {:?}", sequence(&events));
        let last = events.last().unwrap();
        assert_eq!(last.field("requested_replica_id"), "replica-1", "{kind}");
        match kind {
            StateKind::PromotionSucceeded | StateKind::PromotionDenied => {
                assert_eq!(last.name, names::COMPLETED, "{kind}")
            }
            _ => {
                assert_eq!(last.name, names::ABORTED_ON_CRASH, "{kind}");
                assert_eq!(last.field("last_known_state"), kind.name());
                assert_eq!(metrics.crash_abort_total, 1, "{kind}");
            }
        }
    }
}

/// P6-A1, P6-O1: a handle shown an authority that went back says so in an event, with what it
/// had seen and what it found; the refusal itself decides nothing.
#[test]
fn an_authority_that_went_back_is_an_event() {
    use aerodb_promotion::testing::{MemoryHarness, StoreHarness};
    let mut harness = MemoryHarness;
    let mut store = harness.fresh();
    let first = store.bootstrap(id("primary-0")).unwrap();
    let second = promoted(&mut store, &first, "replica-1", 50);
    assert!(harness.tamper_with_record(&mut store, &first.to_bytes().unwrap()));
    let (loaded, events) = captured(|| store.load());
    assert!(matches!(loaded, Err(StoreError::WentBack(_))), "{loaded:?}");
    assert_eq!(sequence(&events), [names::AUTHORITY_WENT_BACK]);
    let event = &events[0];
    assert_eq!(
        (event.field("seen_epoch"), event.field("seen_primary"), event.field("found_epoch")),
        ("2", "replica-1", "1")
    );
    assert_eq!((event.field("found_primary"), event.field("invariants")), ("primary-0", "P6-A1,P6-F1"));
    assert_eq!(second.epoch().get(), 2);
}
