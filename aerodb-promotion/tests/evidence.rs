//! The primary report as evidence, end to end through the stores: a promotion that rested on
//! it commits only while the store still holds exactly that report (P6-A1), and a stop
//! statement stays until a resume withdraws request and statement together.

mod common;

use aerodb_core::*;
use aerodb_promotion::testing::{MemoryStore, caught_up_inputs};
use aerodb_promotion::*;
use common::*;

fn stopped(lsn: u64) -> Stopped {
    Stopped { checkpoint: pos(1, lsn), clean: false }
}

/// The primary `primary-0` of epoch 1 asked to stop and stated stopped; `replica-1` caught up
/// through 40, with nothing else known of the old primary: approvable on the statement only.
fn on_statement<St: AuthorityStore>(store: &mut St) -> (PrimaryReport, ValidationInputs) {
    let record = store.bootstrap(id("primary-0")).unwrap();
    let report =
        PrimaryReport::new(record.epoch(), id("primary-0")).with_stop_requested().with_stopped(stopped(35));
    store.swap_report(None, &report).unwrap();
    let inputs = caught_up_inputs(&record, id("replica-1"), 40)
        .with_old_primary(OldPrimary::Unknown)
        .with_report(store.load_report().unwrap().unwrap());
    (report, inputs)
}

fn stale_evidence_refuses_the_commit<St: AuthorityStore>(store: &mut St) {
    let (report, inputs) = on_statement(store);
    let approved = approve(store, "replica-1", &inputs);
    assert_eq!(approved.approval().plan().report.as_ref(), Some(&report));
    // The primary is resumed between the decision and the commit.
    let resumed = PrimaryReport::new(report.epoch(), report.primary());
    store.swap_report(Some(&report), &resumed).unwrap();
    let failure = approved.begin_transition().commit(store).unwrap_err();
    assert!(matches!(failure.error(), CommitError::EvidenceChanged), "{}", failure.error());
    assert!(failure.error().is_conflict(), "nothing was written: a certain outcome");
    assert_eq!(store.load().unwrap().unwrap().epoch(), Epoch::new(1), "written on stale evidence");
}

#[test]
fn a_promotion_resting_on_a_report_commits_only_while_the_report_is_unchanged() {
    stale_evidence_refuses_the_commit(&mut MemoryStore::default());
    let dir = temp_dir("evidence");
    stale_evidence_refuses_the_commit(&mut FileAuthorityStore::open(dir.path()).unwrap());
    // Unchanged: the commit applies, and the record keeps where its evidence came from.
    let mut store = MemoryStore::default();
    let (_, inputs) = on_statement(&mut store);
    let record = approve(&store, "replica-1", &inputs)
        .begin_transition()
        .commit(&mut store)
        .unwrap()
        .complete()
        .1
        .record()
        .clone();
    let evidence = record.request().and_then(|r| r.evidence).unwrap();
    assert_eq!(evidence.old_primary_from, OldPrimarySource::Agent);
    // The old primary's report speaks for an epoch that is over: it cannot be rewritten.
    let old = store.load_report().unwrap().unwrap();
    let refused = store.swap_report(Some(&old), &PrimaryReport::new(Epoch::new(1), id("primary-0")));
    assert!(matches!(refused, Err(StoreError::Report(ReportRefusal::NotCurrent { .. }))), "{refused:?}");
}

/// Evidence given in the inputs does not tie the commit to the report.
#[test]
fn a_promotion_on_given_evidence_ignores_later_reports() {
    let mut store = MemoryStore::default();
    let record = store.bootstrap(id("primary-0")).unwrap();
    let inputs = caught_up_inputs(&record, id("replica-1"), 40);
    let approved = approve(&store, "replica-1", &inputs);
    assert_eq!(approved.approval().plan().report, None);
    let report = PrimaryReport::new(record.epoch(), id("primary-0")).with_stop_requested();
    store.swap_report(None, &report).unwrap();
    let _steady = approved.begin_transition().commit(&mut store).unwrap().complete();
}

/// Within an epoch a stop statement is changed only by a resume withdrawing request and
/// statement together; a request alone stays too.
#[test]
fn a_stop_stays_until_a_resume_withdraws_it_whole() {
    let record = AuthorityRecord::bootstrap(id("primary-0"));
    let (epoch, primary) = (record.epoch(), record.primary());
    let base = PrimaryReport::new(epoch, primary);
    let requested = base.clone().with_stop_requested();
    let stated = requested.clone().with_stopped(stopped(35));
    let refused = |current: &PrimaryReport, next: &PrimaryReport| {
        check_report(Some(&record), Some(current), Some(current), next)
    };
    let taken_back = |current: &PrimaryReport, next: &PrimaryReport| {
        matches!(refused(current, next), Err(StoreError::Report(ReportRefusal::StopTakenBack)))
    };
    assert!(taken_back(&stated, &requested), "the statement withdrawn alone");
    assert!(taken_back(&stated, &base.clone().with_stopped(stopped(35))), "the request withdrawn alone");
    assert!(taken_back(&stated, &requested.clone().with_stopped(stopped(36))), "the statement changed");
    assert!(
        taken_back(&requested, &base.clone().with_stopped(stopped(35))),
        "a statement for a withdrawn request"
    );
    // A resume withdraws both: allowed, and so is stating after a request.
    assert!(refused(&stated, &base).is_ok());
    assert!(refused(&requested, &stated).is_ok());
    assert!(refused(&requested, &base).is_ok());
}

/// P6-S1: of every acknowledged bound the inputs offer, the highest is the one chosen, shown and
/// recorded (the candidate must hold each, so the verdict alone does not tell which); a tie goes
/// to the later source, the report's evidence over what was merely given, so that the record
/// says the bound rested on the report. Pins the `>=` in `acknowledged_bound`'s choice: `<`
/// would record the lowest bound, and a tie as given.
#[test]
fn the_highest_acknowledged_bound_is_recorded_and_a_tie_goes_to_the_report() {
    let record = AuthorityRecord::bootstrap(id("primary-0"));
    let chosen = |given: u64, checkpoint: u64| {
        let report = PrimaryReport::new(record.epoch(), id("primary-0"))
            .with_stop_requested()
            .with_stopped(Stopped { checkpoint: pos(1, checkpoint), clean: true });
        let mut inputs = caught_up_inputs(&record, id("replica-1"), 40).with_report(report);
        inputs.acknowledged = Some(pos(1, given));
        let request = PromotionRequest::builder("replica-1").build().unwrap();
        match assess(PromotionPolicy::Enabled, &request, &inputs).verdict {
            Verdict::Approve(plan) => (plan.evidence.acknowledged, plan.evidence.acknowledged_from),
            other => panic!("given {given}, clean stop {checkpoint}: {other:?}"),
        }
    };
    assert_eq!(chosen(30, 35), (pos(1, 35), AcknowledgedSource::CleanStop), "the clean stop is higher");
    assert_eq!(chosen(38, 35), (pos(1, 38), AcknowledgedSource::Given), "the given position is higher");
    assert_eq!(chosen(35, 35), (pos(1, 35), AcknowledgedSource::CleanStop), "a tie: the report's");
}

/// P6-S1: the rules a stop rests on stay while either half of the stop stands — a request not
/// yet answered by a statement (the primary may still acknowledge under the rules until it
/// stops, and the statement to come rests on them), or a statement alone — not only while
/// both do; without a stop, or by a resume withdrawing both, they may change. Pins the `||`
/// of `check_report`'s `stopping`: `&&` let the rules be narrowed after a request alone.
#[test]
fn the_rules_stay_while_a_stop_is_requested_or_stated_alone() {
    let record = AuthorityRecord::bootstrap(id("primary-0"));
    let rules = |names: &[&str]| {
        vec![SyncRule::new(SyncMethod::Any, 1, names.iter().map(|n| id(n)).collect()).unwrap()]
    };
    let base =
        PrimaryReport::new(record.epoch(), record.primary()).with_synchronous(rules(&["a", "b"])).unwrap();
    let narrowed = |r: &PrimaryReport| r.clone().with_synchronous(rules(&["a"])).unwrap();
    let write = |current: &PrimaryReport, next: &PrimaryReport| {
        check_report(Some(&record), Some(current), Some(current), next)
    };
    let held = |current: &PrimaryReport, next: &PrimaryReport| {
        matches!(write(current, next), Err(StoreError::Report(ReportRefusal::RulesWhileStopped)))
    };
    let requested = base.clone().with_stop_requested();
    assert!(held(&requested, &narrowed(&requested)), "the rules narrowed after a request alone");
    let stated = base.clone().with_stopped(stopped(35));
    assert!(held(&stated, &narrowed(&stated)), "the rules narrowed after a statement alone");
    let both = requested.clone().with_stopped(stopped(35));
    assert!(held(&both, &narrowed(&both)), "the rules narrowed after request and statement");
    // No stop, or a resume withdrawing it whole: the rules may change.
    assert!(write(&base, &narrowed(&base)).is_ok());
    assert!(write(&both, &narrowed(&PrimaryReport::new(record.epoch(), record.primary()))).is_ok());
}

/// P6-A1: a stored report of a newer epoch than the one written proves the authority went back
/// (check 2 denies on it), so it is never replaced by an older epoch's — whatever the record
/// now says, over every pair of epochs, primaries and stop states; a report of the same or a
/// newer epoch is judged by the other rules alone.
#[test]
fn a_newer_epochs_report_is_never_replaced_by_an_older_ones() {
    let mut store = MemoryStore::default();
    let mut records = vec![store.bootstrap(id("primary-0")).unwrap()];
    for (i, candidate) in ["replica-1", "primary-0", "replica-1"].iter().enumerate() {
        let next = promoted(&mut store, &records[i], candidate, 10 * (i as u64 + 1));
        records.push(next);
    }
    let mut cases = 0;
    for record in &records {
        let writing = PrimaryReport::new(record.epoch(), record.primary());
        for epoch in 1..=5 {
            for primary in ["primary-0", "replica-1"] {
                for stop in [false, true] {
                    let mut stored = PrimaryReport::new(Epoch::new(epoch), id(primary));
                    if stop {
                        stored = stored.with_stop_requested().with_stopped(stopped(35));
                    }
                    let result = check_report(Some(record), Some(&stored), Some(&stored), &writing);
                    let backwards =
                        matches!(result, Err(StoreError::Report(ReportRefusal::Backwards { .. })));
                    assert_eq!(
                        backwards,
                        stored.epoch() > writing.epoch(),
                        "stored {stored:?}, writing {writing:?}: {result:?}"
                    );
                    if stored.epoch() < writing.epoch() {
                        assert!(result.is_ok(), "an older epoch's report is replaced: {result:?}");
                    }
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 4 * 5 * 2 * 2);
}
