//! End-to-end lifecycles on the cluster model (stage 6.8).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use aerodb_core::*;
use aerodb_promotion::event_names as names;
use aerodb_promotion::file_store::read_record;
use aerodb_promotion::testing::cluster::Cluster;
use aerodb_promotion::*;
use common::*;

const NODES: [&str; 3] = ["node-0", "node-1", "node-2"];

/// node-0 primary; 10 acknowledged writes; node-1 has all of them, node-2 only 6.
fn cluster(dir: &TempDir, policy: PromotionPolicy) -> Cluster {
    let mut cluster = Cluster::start(dir.path(), &NODES, policy).unwrap();
    assert_eq!(cluster.write(10), 10);
    cluster.replicate(1, 10, false).unwrap();
    cluster.replicate(2, 6, false).unwrap();
    cluster
}

#[test]
fn a_successful_promotion_moves_authority_and_fences_the_old_primary() {
    init_tracing();
    let dir = temp_dir("e2e-success");
    let mut cluster = cluster(&dir, PromotionPolicy::Enabled);
    cluster.crash(0).unwrap();
    let report = cluster.promote(1, false, None).unwrap();
    assert!(report.promoted, "{}", report.explanation.unwrap());
    assert_eq!(report.authority.epoch(), Epoch::new(2));
    assert_eq!(report.authority.primary(), id("node-1"));
    assert_eq!(cluster.nodes()[1].role(), ReplicationState::PrimaryActive);
    assert_eq!(cluster.nodes()[1].gate().admit_write(), Ok(Epoch::new(2)));
    assert_eq!(cluster.write(3), 3, "the new primary takes writes");
    cluster.replicate(2, 20, false).unwrap();
    assert_eq!(cluster.nodes()[2].position(), cluster.nodes()[1].position());

    // The old primary comes back leading epoch 1, meets epoch 2, and is fenced.
    cluster.restart(0).unwrap();
    assert!(matches!(cluster.nodes()[0].gate().admit_write(), Err(WriteRefused::Fenced { .. })));
    assert!(matches!(cluster.nodes()[0].role(), ReplicationState::ReplicationHalted { .. }));
    cluster.check_invariants().unwrap();
    // It rejoins as a replica through Phase 5's role changes and never admits a write.
    assert!(cluster.rejoin(0).unwrap());
    assert_eq!(cluster.nodes()[0].role(), ReplicationState::ReplicaActive);
    assert!(cluster.nodes()[0].gate().admit_write().is_err());
    cluster.check_invariants().unwrap();

    // A restarted controller recovers the same authority.
    let before = cluster.authority().clone();
    assert_eq!(cluster.restart_controller().unwrap(), &before);
}

#[test]
fn a_partitioned_old_primary_is_fenced_when_it_reappears() {
    init_tracing();
    let dir = temp_dir("e2e-fence");
    let mut cluster = cluster(&dir, PromotionPolicy::Enabled);
    cluster.partition(0).unwrap();
    let report = cluster.promote(1, true, None).unwrap();
    assert!(report.promoted);
    // Cut off, the old primary may still take writes at epoch 1; none is acknowledged.
    let acked_before = cluster.acknowledged();
    cluster.check_invariants().unwrap();
    cluster.heal(0).unwrap();
    assert!(matches!(cluster.nodes()[0].gate().admit_write(), Err(WriteRefused::Fenced { .. })));
    assert_eq!(cluster.acknowledged(), acked_before);
    cluster.check_invariants().unwrap();
}

#[test]
fn a_lagging_replica_is_denied_with_its_reason() {
    init_tracing();
    let dir = temp_dir("e2e-denied");
    let mut cluster = cluster(&dir, PromotionPolicy::Enabled);
    cluster.crash(0).unwrap();
    let report = cluster.promote(2, false, None).unwrap();
    assert!(!report.promoted);
    let explanation = report.explanation.unwrap();
    assert_eq!(explanation.outcome, Outcome::Denied);
    assert_eq!(explanation.invariant_violated, Some(Invariant::P6S1));
    assert_eq!(cluster.authority().epoch(), Epoch::new(1));
}

#[test]
fn repeated_attempts_denied_then_caught_up_then_approved_and_twice_promoted() {
    init_tracing();
    let dir = temp_dir("e2e-repeated");
    let mut cluster = cluster(&dir, PromotionPolicy::Enabled);
    cluster.crash(0).unwrap();
    assert!(!cluster.promote(2, false, None).unwrap().promoted, "node-2 lags");
    assert!(!cluster.promote(2, false, None).unwrap().promoted, "no retry changes anything (P6-F3)");
    // node-2 cannot catch up from a crashed primary; node-1 is promoted, then node-2 follows it.
    assert!(cluster.promote(1, false, None).unwrap().promoted);
    cluster.replicate(2, 20, false).unwrap();
    cluster.write(4);
    cluster.replicate(2, 20, false).unwrap();
    // Now node-1 is lost and the caught-up node-2 takes over: a second promotion, epoch 3.
    cluster.crash(1).unwrap();
    let second = cluster.promote(2, false, None).unwrap();
    assert!(second.promoted, "{}", second.explanation.unwrap());
    assert_eq!(cluster.authority().epoch(), Epoch::new(3));
    assert_eq!(cluster.authority().history().len(), 2);
    let (attempts, explanations) = cluster.attempts();
    assert_eq!((attempts, explanations.len()), (4, 4));
}

#[test]
fn a_forced_promotion_is_recorded_in_record_event_and_explanation() {
    init_tracing();
    let dir = temp_dir("e2e-forced");
    let mut cluster = cluster(&dir, PromotionPolicy::Enabled);
    cluster.partition(0).unwrap();
    let capture = Capture::default();
    let unforced =
        tracing::subscriber::with_default(capture.clone(), || cluster.promote(1, false, None).unwrap());
    assert_eq!(unforced.explanation.unwrap().invariant_violated, Some(Invariant::P6A1));
    capture.take();
    let forced =
        tracing::subscriber::with_default(capture.clone(), || cluster.promote(1, true, None).unwrap());
    assert!(forced.promoted);
    assert_eq!(forced.authority.request().unwrap().force, Force::CarriedTheDecision, "recorded durably");
    let explanation = forced.explanation.unwrap();
    assert!(matches!(
        explanation.authority,
        AuthorityAfter::Changed { force: Force::CarriedTheDecision, .. }
    ));
    assert_eq!(explanation.request.force, Force::CarriedTheDecision);
    let events = capture.take();
    assert!(events.iter().filter(|e| e.fields.contains_key("force")).all(|e| e.field("force") == "true"));
    let succeeded = events.iter().find(|e| e.name == names::VALIDATION_SUCCEEDED).unwrap();
    assert_eq!(succeeded.field("force_asserted"), "true");
    let completed = events.iter().find(|e| e.name == names::TRANSITION_COMPLETED).unwrap();
    assert_eq!(completed.field("force_use"), "carried_the_decision");
    let record = read_record(dir.path()).unwrap().unwrap();
    assert_eq!(record.request().unwrap().force, Force::CarriedTheDecision);
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            out.insert(format!("{name}/"), Vec::new());
            out.extend(files(&path).into_iter().map(|(k, v)| (format!("{name}/{k}"), v)));
        } else {
            out.insert(name, std::fs::read(&path).unwrap());
        }
    }
    out
}

#[test]
fn a_disabled_policy_refuses_explicitly_and_writes_nothing() {
    init_tracing();
    let dir = temp_dir("e2e-disabled");
    let mut cluster = cluster(&dir, PromotionPolicy::Disabled);
    cluster.crash(0).unwrap();
    let before = files(dir.path());
    for (node, force) in [(1, false), (1, true), (2, false)] {
        let report = cluster.promote(node, force, None).unwrap();
        assert!(!report.promoted);
        let explanation = report.explanation.unwrap();
        assert_eq!(explanation.outcome, Outcome::Rejected);
        assert_eq!(explanation.reason, "rejected before validation: promotion is disabled by policy");
        assert!(explanation.checks.is_empty(), "nothing was validated");
    }
    assert_eq!(files(dir.path()), before, "no file was written or changed");
    assert!(!cluster.store().unwrap().slot().is_busy(), "no state is kept");
    assert_eq!(cluster.authority().epoch(), Epoch::new(1));
    cluster.check_invariants().unwrap();
}
