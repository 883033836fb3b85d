//! Found by an adversarial review: the acknowledged bound derived from the reported synchronous
//! rule (P6-S1) reads each named standby's `NodeView::position`. A synchronous standby
//! acknowledges a commit once it has *flushed* it, not once it has replayed it; a standby whose
//! replay lags its flush (paused, `recovery_min_apply_delay`, a replay conflict, not settled
//! within the observation's bound) must be seen at its flushed end, or the bound understates
//! what it acknowledged. `ServerState::node_view` does so (and halts it: never promoted).

use aerodb_core::{Epoch, EpochHistory, Lsn, NodeId};
use aerodb_postgres::observe::ServerState;
use aerodb_postgres::timeline;
use aerodb_promotion::{
    AuthorityView, OldPrimary, PrimaryReport, PromotionPolicy, PromotionRequest, SyncMethod, SyncRule,
    ValidationInputs, Verdict, assess,
};

fn id(s: &str) -> NodeId {
    NodeId::new(s).unwrap()
}

fn standby(flushed: u64, replayed: u64, paused: bool, history: &EpochHistory) -> ServerState {
    ServerState {
        system_identifier: 7,
        in_recovery: true,
        flushed: Some(Lsn::new(flushed)),
        replayed: Lsn::new(replayed),
        timeline: 1,
        history: history.clone(),
        replay_paused: paused,
        receiving: false,
        node: None,
        started: String::new(),
    }
}

/// `pg1` led epoch 1 under `ANY 1 (pg2, pg3)` and stated it stopped (uncleanly). `pg3` flushed
/// through 300 — so it may have acknowledged a commit there — but replayed only through 150
/// (replay paused, or delayed); `pg2` flushed and replayed through 150. The derived bound
/// must be at least 300 (pg3 may have acknowledged it; pg2 never had it): promoting `pg2`
/// must be denied (it was approved on a bound of 150 "set by pg3").
fn check(paused: bool) {
    let history = timeline::history(1, None).unwrap();
    let rule = SyncRule::new(SyncMethod::Any, 1, vec![id("pg2"), id("pg3")]).unwrap();
    let report = PrimaryReport::new(Epoch::new(1), id("pg1"))
        .with_synchronous(vec![rule])
        .unwrap()
        .with_stop_requested()
        .with_stopped(aerodb_promotion::Stopped {
            checkpoint: aerodb_core::WalPosition::new(Epoch::new(1), Lsn::new(40)),
            clean: false,
        });
    let inputs = ValidationInputs::new(Some(AuthorityView::new(id("pg1"), history.clone())))
        .with_node(standby(150, 150, false, &history).node_view(id("pg2")))
        .with_node(standby(300, 150, paused, &history).node_view(id("pg3")))
        .with_old_primary(OldPrimary::Unknown)
        .with_report(report);
    let request = PromotionRequest::builder("pg2").build().unwrap();
    let verdict = assess(PromotionPolicy::Enabled, &request, &inputs).verdict;
    if let Verdict::Approve(plan) = &verdict {
        panic!(
            "UNSAFE (P6-S1): pg2 approved at 1/150 on the derived bound {} ({:?}), although pg3, named \
             in ANY 1 (pg2, pg3), flushed through 1/300 and may have acknowledged commits up to there \
             (replay {})",
            plan.evidence.acknowledged,
            plan.evidence.acknowledged_from,
            if paused { "paused" } else { "lagging, e.g. recovery_min_apply_delay or not settled" }
        );
    }
}

#[test]
fn a_standby_whose_replay_lags_bounds_by_what_it_flushed() {
    check(false);
}

#[test]
fn a_paused_standby_bounds_by_what_it_flushed() {
    check(true);
}
