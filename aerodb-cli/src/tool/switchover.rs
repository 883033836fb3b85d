//! `aerodb-promote switchover CANDIDATE`: hand write authority to a chosen standby while the
//! primary is alive, losing nothing. No new state: the primary's agent stops it cleanly and
//! states it (its shutdown checkpoint is then the exact acknowledged bound: nothing was
//! acknowledged after it), the candidate receives that checkpoint, and an ordinary promotion
//! commits on that evidence. Each step is read back from the store and the servers, so a run
//! killed at any step is finished, or refused with its reason, by running it again.

use std::time::{Duration, Instant};

use aerodb_core::{NodeId, WalPosition};
use aerodb_postgres::cluster::Cluster;
use aerodb_postgres::observe as pg;
use aerodb_promotion::{OldPrimary, PromotionPolicy, PromotionRequest, ValidationInputs, Verdict, assess};

use super::{Failure, PromoteOptions, exit, fail, look, promote, read, request_stop, stated_stop};
use crate::store_args::Place;

/// What `switchover` was asked.
pub(super) struct Switchover<'a> {
    pub candidate: NodeId,
    pub cluster: &'a Cluster,
    /// How long each wait may take: the stop statement, then the candidate's catch-up.
    pub wait: Duration,
    /// How far behind the primary's flushed WAL the candidate may be when it starts, in bytes.
    pub max_lag: u64,
    pub reason: Option<String>,
    pub dry_run: bool,
    pub json: bool,
    /// Test hook: stop after this many steps and wait to be killed.
    pub pause_after: Option<u32>,
}

/// Runs (or, after a kill, finishes) the switchover.
pub(super) fn run(place: &Place, s: &Switchover<'_>) -> Result<u8, Failure> {
    let record = read(place)?;
    let (epoch, primary) = (record.epoch(), record.primary());
    if primary == s.candidate {
        println!("{} is the primary at epoch {epoch}: nothing to do", s.candidate);
        return Ok(exit::OK);
    }
    let mut steps = 0;
    let mut step = |what: &str| {
        steps += 1;
        eprintln!("aerodb-promote: switchover step {steps}: {what}");
        if s.pause_after == Some(steps) {
            eprintln!("aerodb-promote: paused after {steps} steps");
            std::thread::sleep(Duration::from_secs(600));
        }
    };
    let asked = place.read_report()?.filter(|r| r.is_for(epoch, primary)).is_some_and(|r| r.stop_requested());
    if asked {
        eprintln!(
            "aerodb-promote: {primary} was already asked to stop at epoch {epoch}: going on from there"
        );
    } else {
        precheck(place, s, primary)?;
        if s.dry_run {
            println!(
                "switchover of {primary} to {} at epoch {epoch} would start: every check passed",
                s.candidate
            );
            return Ok(exit::OK);
        }
        request_stop(place, epoch, primary)?;
    }
    step(&format!("asked {primary} to stop cleanly"));
    // 2. Its agent's statement: stopped, and its last checkpoint.
    let Some(stopped) = stated_stop(place, epoch, primary, s.wait)? else {
        return Err(timed_out(primary, &format!("{primary}'s agent has not stated that it stopped"), s.wait));
    };
    step(&format!("{primary} stopped (clean: {}), last checkpoint {}", stopped.clean, stopped.checkpoint));
    // 3. The candidate receives the shutdown checkpoint.
    let config = s
        .cluster
        .config(&s.candidate)
        .ok_or_else(|| fail(exit::USAGE, format!("the cluster file does not name {}", s.candidate)))?;
    let deadline = Instant::now() + s.wait;
    loop {
        match pg::observe(&config) {
            Ok(state) if holds(&state, stopped.checkpoint) => break,
            Ok(_) | Err(pg::ObserveError::Unreachable(_)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Ok(state) => {
                let at = state.wal_end();
                return Err(timed_out(
                    primary,
                    &format!(
                        "{} reached {at}, not {primary}'s last checkpoint {}",
                        s.candidate, stopped.checkpoint
                    ),
                    s.wait,
                ));
            }
            Err(error) => return Err(fail(exit::OTHER, format!("{}: {error}", s.candidate))),
        }
    }
    step(&format!("{} holds {primary}'s last checkpoint", s.candidate));
    // 4. An ordinary promotion on that evidence: observed (standbys frozen), decided, committed.
    let looked = look(place, s.cluster, None, true)?;
    step("observed every node");
    let reason = s.reason.clone().unwrap_or_else(|| format!("switchover from {primary}"));
    let request = PromotionRequest::builder(s.candidate.as_str())
        .reason(&format!("switchover: {reason}"))
        .build()
        .map_err(|e| fail(exit::USAGE, e.to_string()))?;
    let options = PromoteOptions { dry_run: false, expect_epoch: Some(epoch.get()), json: s.json };
    promote(place, request, looked.observation, options, false)
}

/// Before anything changes: the primary runs, the candidate streams from it within `max_lag`,
/// and the candidate passes every check a promotion would make once the primary is stopped with
/// the candidate's WAL as the bound — so a switchover that cannot finish does not start.
fn precheck(place: &Place, s: &Switchover<'_>, primary: NodeId) -> Result<(), Failure> {
    let looked = look(place, s.cluster, None, false)?;
    let state = |node: NodeId| looked.seen.iter().find(|(n, _)| *n == node).map(|(_, state)| state);
    let refused = |why: String| fail(exit::REFUSED, format!("switchover refused, nothing changed: {why}"));
    let Some(running) = state(primary).filter(|p| !p.in_recovery) else {
        return Err(refused(format!("{primary} does not run as a primary (a failover is `promote`'s)")));
    };
    let Some(candidate) = state(s.candidate) else {
        return Err(refused(format!("{} was not observed", s.candidate)));
    };
    if !candidate.in_recovery || !candidate.receiving {
        return Err(refused(format!("{} is not a standby receiving WAL", s.candidate)));
    }
    // Its agent started it (it names its node): an agent is there to promote it.
    if candidate.node.as_deref() != Some(s.candidate.as_str()) {
        return Err(refused(format!(
            "{} was not started by its agent (aerodb.node is not set)",
            s.candidate
        )));
    }
    let ahead = running.flushed.unwrap_or(running.replayed).get();
    let at = candidate.flushed.unwrap_or(candidate.replayed).get();
    let lag = ahead.saturating_sub(at);
    if lag > s.max_lag {
        return Err(refused(format!(
            "{} is {lag} bytes behind {primary} (at most {} allowed)",
            s.candidate, s.max_lag
        )));
    }
    // The checks of the promotion to come, with the primary stopped at the candidate's WAL end.
    let view = looked.record.view();
    let mut inputs: ValidationInputs = looked.observation.over(Some(view));
    inputs.nodes.retain(|n| n.id != primary);
    let inputs = inputs.with_old_primary(OldPrimary::ConfirmedStopped).with_acknowledged(candidate.wal_end());
    let request = PromotionRequest::builder(s.candidate.as_str())
        .build()
        .map_err(|e| fail(exit::USAGE, e.to_string()))?;
    match assess(PromotionPolicy::Enabled, &request, &inputs).verdict {
        Verdict::Approve(_) => Ok(()),
        Verdict::Deny(reason) => Err(refused(format!("{} would be denied: {reason}", s.candidate))),
        Verdict::Reject(rejection) => Err(refused(format!("{} would be rejected: {rejection}", s.candidate))),
    }
}

/// Whether the standby `state` holds everything up to `checkpoint`'s record: on its timeline,
/// flushed past the record's start (the record is whole or not at all).
fn holds(state: &pg::ServerState, checkpoint: WalPosition) -> bool {
    let flushed = state.flushed.unwrap_or(state.replayed);
    let at = aerodb_postgres::timeline::position(&state.history, flushed);
    at.epoch == checkpoint.epoch && at.lsn > checkpoint.lsn
}

/// A wait ran out: nothing was committed, the old primary stays stopped and the authority.
fn timed_out(primary: NodeId, what: &str, wait: Duration) -> Failure {
    fail(
        exit::NOT_STOPPED,
        format!(
            "switchover not finished within {} s: {what}. The authority is unchanged ({primary}, stopped); \
             run the same command again to go on, or restart {primary} with `aerodb-promote resume-primary`",
            wait.as_secs()
        ),
    )
}
