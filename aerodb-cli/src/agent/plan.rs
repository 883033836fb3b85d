//! The agent's one decision: from the durable authority and what its server is now, the next
//! step. Pure (no I/O, no clock), so every pair of inputs can be checked; the agent runs one step,
//! reads everything again and asks again, so a step interrupted by a kill is simply asked for
//! again.
//!
//! The rule it enforces (P6-A1 at the database): the server acknowledges writes only when it
//! is out of recovery, unfenced, and the authority names this node at exactly the server's
//! timeline with exactly the server's timeline history. Anything else that could write is
//! stopped at once, kept private (no TCP, only its owner can connect), or promoted under
//! [`FENCE_RULE`] (it acknowledges no commit until its agent has checked it).

use aerodb_core::{Continuation, Epoch, EpochHistory, NodeId};
use aerodb_postgres::control::Checkpoint;
use aerodb_postgres::observe::ServerState;
use aerodb_promotion::{AuthorityRecord, MAX_SYNC_RULES, PrimaryReport, SyncRule};

/// What the plan reads of the durable authority record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// The node that may write.
    pub primary: NodeId,
    /// Its epoch: the PostgreSQL timeline it must run.
    pub epoch: Epoch,
    /// The epoch history: the timeline history file it must have.
    pub history: EpochHistory,
}

impl Authority {
    /// The authority a record states.
    pub fn of(record: &AuthorityRecord) -> Authority {
        Authority {
            primary: record.primary(),
            epoch: record.epoch(),
            history: record.epoch_history().clone(),
        }
    }
}

/// What the agent found of its server.
#[derive(Debug, Clone, PartialEq, Eq)]
// One value per look, never stored in bulk: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Seen {
    /// No postmaster runs; `standby` when the data directory holds `standby.signal`.
    Down {
        /// Set up as a standby.
        standby: bool,
    },
    /// A running server, as it reports itself.
    Up(Running),
    /// A postmaster runs but could not be read (starting, stopping, refusing its agent, a
    /// timeline without its history file): `may_write` unless it is private or set up as a
    /// standby (`standby.signal`), and then it is fenced — never left writable on a guess.
    Unreadable {
        /// Why it could not be read.
        why: String,
        /// It listens on TCP and does not say it is a standby: clients may be writing to it.
        may_write: bool,
    },
}

/// A running server, as read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// Listening on no TCP address: only its owner can reach it.
    pub private: bool,
    /// Role, timeline, history and positions, from the server.
    pub state: ServerState,
    /// A standby's `primary_conninfo` (empty: not streaming from anyone).
    pub following: String,
    /// The epoch of the authority under which its replication was frozen for an observation
    /// (`aerodb.frozen_at`), if it is.
    pub frozen_at: Option<u64>,
    /// `synchronous_standby_names` as the server applies it.
    pub synchronous: String,
    /// `synchronous_commit` as the server applies it.
    pub synchronous_commit: String,
    /// An `ALTER ROLE` or `ALTER DATABASE` sets `synchronous_commit` below `on` for some
    /// sessions: their commits would pass the fence (any role may set its own, so this only
    /// ever chooses the private restart, never stops a server).
    pub lowered_for_sessions: bool,
    /// A primary's standbys (by `application_name`) that have flushed everything it has.
    pub caught_up: Vec<String>,
    /// The timeline of the server's latest checkpoint (`pg_control_checkpoint()`): before a
    /// promoted server's first checkpoint, its old one.
    pub checkpoint_timeline: u32,
}

/// What the agent keeps or honours beside the authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duties {
    /// The primary report stored beside the authority (of any epoch; the plan reads only one
    /// for the authority's epoch and this node).
    pub report: Option<PrimaryReport>,
    /// Whether and how this agent manages synchronous replication as primary.
    pub sync: Sync,
    /// A stopped server's last checkpoint (`pg_controldata`), when it could be read.
    pub checkpoint: Option<Checkpoint>,
}

/// The synchronous rule this node applies when it is the primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sync {
    /// Not managed (`--synchronous` not given): `synchronous_standby_names` is left as it is
    /// and no rule is reported, so no acknowledged bound can be derived for this primary.
    Unmanaged,
    /// This rule (this node left out of it), or none: asynchronous.
    Apply(Option<SyncRule>),
}

/// The next step toward the durable authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do: a public primary at the authority's epoch and history.
    Leads,
    /// Nothing to do: a standby streaming from the authority's primary.
    Follows,
    /// Nothing to do now (e.g. no authority yet, a frozen standby awaiting a decision).
    Wait(String),
    /// Not converging on its own: the operator must act; the report says what.
    Hold(String),
    /// Stop the server at once (immediate shutdown): it could accept writes it must not.
    Fence,
    /// Start the stopped server privately: it may come up writable, and is checked first.
    StartPrivate,
    /// Start the stopped standby publicly: a standby never accepts writes.
    StartPublic,
    /// Restart the private server publicly: it checked out.
    OpenUp,
    /// Restart the public standby privately: it is to be promoted, and is not fenced by
    /// [`FENCE_RULE`].
    GoPrivate,
    /// Set the standby's `synchronous_standby_names` to [`FENCE_RULE`] (no effect while it is a
    /// standby): promoted, by its agent or by hand, it acknowledges no commit until its agent
    /// has checked it and applied its own rule.
    ArmFence,
    /// Stop the standby's WAL receiver (`primary_conninfo = ''`) so its position holds.
    Freeze,
    /// Promote the private or fenced standby (`pg_promote`): its history and switch point are
    /// the record's.
    Promote,
    /// Rewind the stopped former primary from `source` and set it up as its standby.
    Rewind(NodeId),
    /// Stop the standby (it holds WAL the authority's history does not: it cannot follow),
    /// rewind it from `source` and set it up as its standby.
    Resync(NodeId),
    /// Stream from `primary`, and lift a freeze.
    Follow(NodeId),
    /// Stop the server cleanly (fast shutdown): a controller asked this primary to stop for good.
    Shutdown,
    /// State durably that the server stopped for good at the authority's epoch, with its last
    /// checkpoint.
    StateStopped,
    /// Record these synchronous rules in the report (before PostgreSQL applies a new one, P6-S1).
    RecordRules(Vec<SyncRule>),
    /// Set `synchronous_standby_names` to this rule (`None`: asynchronous); it is recorded.
    ApplyRule(Option<SyncRule>),
    /// Set the cleanly stopped former primary up as a standby of `primary` without
    /// `pg_rewind`: its WAL ends before the authority's next epoch began.
    Rejoin(NodeId),
    /// `CHECKPOINT` the writable primary, whose latest checkpoint is still on an earlier
    /// timeline: `pg_rewind` reads a source's timeline from its latest checkpoint, and from a
    /// primary promoted without one would find no rewind required where one is.
    Checkpoint,
}

/// The next step with the agent's duties beside the authority: a stop requested of this
/// primary for the authority's epoch comes first and is final; a primary about to be or being
/// writable applies synchronous replication only as its report records it (P6-S1: the
/// acknowledged bound is derived from the report, so the report never understates what the
/// server waits for).
pub fn plan_with(
    me: NodeId,
    record: Option<&Authority>,
    seen: &Seen,
    primary_conninfo: Option<&str>,
    freeze_expired: bool,
    duties: &Duties,
) -> Step {
    let report = duties.report.as_ref().filter(|r| record.is_some_and(|a| r.is_for(a.epoch, me)));
    if let Some(report) = report.filter(|r| r.stop_requested() || r.stopped().is_some()) {
        return stop_step(seen, report);
    }
    if let (Seen::Down { standby: false }, Some(record), Some(checkpoint)) =
        (seen, record, &duties.checkpoint)
        && record.primary != me
        && ends_before_next_epoch(record, checkpoint)
    {
        return Step::Rejoin(record.primary);
    }
    let step = plan(me, record, seen, primary_conninfo, freeze_expired);
    let Seen::Up(running) = seen else { return step };
    let armed = running.synchronous.trim() == FENCE_RULE;
    let recorded = report.map_or(&[][..], PrimaryReport::synchronous);
    let Sync::Apply(rule) = &duties.sync else {
        // Only a --synchronous agent lifts the fence: held, not guessed.
        return if matches!(step, Step::Leads) && armed {
            Step::Hold(format!(
                "synchronous_standby_names is the fence {FENCE_RULE} (left by an agent run with --synchronous): \
                 no commit is acknowledged; run this agent with --synchronous, or set the rule by hand"
            ))
        } else {
            checkpoint_step(step, running)
        };
    };
    let step = match step {
        // A managed standby carries the fence: promoted by anyone, it acknowledges nothing
        // until this agent has checked it.
        Step::Follows if !armed => return Step::ArmFence,
        // Promoted under the fence instead of restarted privately, when commits wait for it
        // (a weaker synchronous_commit passes the fence: the private restart then).
        Step::GoPrivate if !weak(running) && !running.lowered_for_sessions => {
            if !armed {
                return Step::ArmFence;
            }
            Step::Promote
        }
        step => step,
    };
    // The rule is recorded before the promotion: applied the moment the server checks out.
    if step == Step::Promote
        && let Some(record_first) = rule.as_ref().and_then(|wanted| record_first(wanted, recorded))
    {
        return record_first;
    }
    let writable =
        matches!(step, Step::Leads) || (matches!(step, Step::OpenUp) && !running.state.in_recovery);
    if !writable {
        return step;
    }
    sync_step(rule.as_ref(), running, recorded).unwrap_or_else(|| checkpoint_step(step, running))
}

/// A leading primary whose latest checkpoint is on an earlier timeline checkpoints first: once
/// open, not before (a promotion's own checkpoint is no part of the write outage).
fn checkpoint_step(step: Step, running: &Running) -> Step {
    if step == Step::Leads && running.checkpoint_timeline < running.state.timeline {
        Step::Checkpoint
    } else {
        step
    }
}

/// `synchronous_standby_names` that no standby satisfies (its one name is no node id): a server
/// promoted under it acknowledges no commit made at `synchronous_commit` `on` or
/// `remote_apply` until its agent replaces it. Never recorded: nothing is acknowledged under it.
pub const FENCE_RULE: &str = "FIRST 1 (\"aerodb fence\")";

/// Whether commits on `running` may be acknowledged before its synchronous standbys flushed
/// them (the server's `synchronous_commit` below `on`): they pass both the fence and the
/// reported rule.
fn weak(running: &Running) -> bool {
    WEAK_COMMIT.contains(&running.synchronous_commit.as_str())
}

/// The report records `wanted` before PostgreSQL may apply it (P6-S1): the step recording it,
/// if it is not recorded yet.
fn record_first(wanted: &SyncRule, recorded: &[SyncRule]) -> Option<Step> {
    if recorded.contains(wanted) {
        return None;
    }
    let mut rules = recorded.to_vec();
    rules.push(wanted.clone());
    Some(if rules.len() > MAX_SYNC_RULES {
        Step::Hold(format!(
            "the report already records {} rules and {wanted} would be one more: restart this agent with the rule in force until its standbys have caught up",
            recorded.len()
        ))
    } else {
        Step::RecordRules(rules)
    })
}

/// Whether a server stopped cleanly at `checkpoint` holds nothing the authority's history does
/// not: it shut down cleanly (nothing after the checkpoint record), and on the record's history
/// the epoch after the checkpoint's began past the checkpoint record's start, so the next
/// primary replayed that record whole and this WAL is a prefix of its WAL.
fn ends_before_next_epoch(record: &Authority, checkpoint: &Checkpoint) -> bool {
    let entries = record.history.entries();
    checkpoint.clean
        && entries
            .iter()
            .position(|e| e.epoch.get() == u64::from(checkpoint.timeline))
            .and_then(|i| entries.get(i + 1))
            .is_some_and(|next| next.start > checkpoint.lsn)
}

/// This primary was asked to stop for good at its epoch: stop it, state it, then wait for the
/// next authority; never start it again at this epoch.
fn stop_step(seen: &Seen, report: &PrimaryReport) -> Step {
    match (seen, report.stopped()) {
        // Stated stopped, yet running: started by hand since. Stopped at once.
        (Seen::Up(_) | Seen::Unreadable { .. }, Some(_)) | (Seen::Unreadable { .. }, None) => Step::Fence,
        (Seen::Up(_), None) => Step::Shutdown,
        (Seen::Down { .. }, None) => Step::StateStopped,
        (Seen::Down { .. }, Some(stopped)) => Step::Wait(format!(
            "stopped for good at epoch {} at a controller's request (last checkpoint {}): waiting for the next authority",
            report.epoch(),
            stopped.checkpoint
        )),
    }
}

/// `synchronous_commit` values with which a commit is acknowledged before the synchronous
/// standbys flushed it: the report's rule would overstate what was waited for.
const WEAK_COMMIT: [&str; 6] = ["off", "false", "no", "0", "local", "remote_write"];

/// The synchronous-replication step a writable primary takes first, if any: a rule is recorded
/// before PostgreSQL applies it, PostgreSQL drops a rule before the record does, and the record
/// narrows to the rule in force only once that rule's standbys have everything (so every
/// commit acknowledged under an earlier rule is also bounded by the one left).
fn sync_step(wanted: Option<&SyncRule>, running: &Running, recorded: &[SyncRule]) -> Option<Step> {
    let text = running.synchronous.trim();
    let armed = text == FENCE_RULE;
    let in_force = if text.is_empty() || armed {
        None
    } else {
        match text.parse::<SyncRule>() {
            Ok(rule) => Some(rule),
            Err(error) => {
                return Some(Step::Hold(format!(
                    "synchronous_standby_names = '{text}' cannot be recorded ({error}): set the rule with this agent's --synchronous, not by hand"
                )));
            }
        }
    };
    let Some(wanted) = wanted else {
        return if in_force.is_some() || armed {
            Some(Step::ApplyRule(None))
        } else if !recorded.is_empty() {
            Some(Step::RecordRules(Vec::new()))
        } else {
            None
        };
    };
    if weak(running) {
        let why = format!(
            "synchronous_commit is {}: commits are acknowledged before the synchronous standbys flush them, so the reported rule would not bound them; set it to on or remote_apply",
            running.synchronous_commit
        );
        return Some(if running.private { Step::Hold(why) } else { Step::Fence });
    }
    if let Some(step) = record_first(wanted, recorded) {
        return Some(step);
    }
    if in_force.as_ref() != Some(wanted) {
        return Some(Step::ApplyRule(Some(wanted.clone())));
    }
    let caught_up =
        wanted.standbys().iter().filter(|s| running.caught_up.iter().any(|c| c == s.as_str())).count();
    if recorded.len() > 1 && !running.private && caught_up >= wanted.count() {
        return Some(Step::RecordRules(vec![wanted.clone()]));
    }
    None
}

/// The record's history without its newest epoch: what a standby to be promoted to that epoch
/// must be on.
fn before_latest(history: &EpochHistory) -> Option<EpochHistory> {
    let entries = history.entries();
    let (_, earlier) = entries.split_last()?;
    EpochHistory::new(earlier.to_vec()).ok()
}

/// Whether the server is exactly the record's primary: its timeline is the record's epoch and
/// its timeline history the record's epoch history.
fn matches(record: &Authority, state: &ServerState) -> bool {
    // A primary reporting paused replay contradicts itself: unknown, so not a match.
    u64::from(state.timeline) == record.epoch.get() && state.history == record.history && !state.replay_paused
}

fn mismatch(record: &Authority, state: &ServerState) -> String {
    format!(
        "the authority names this node at epoch {} with history {:?}, but PostgreSQL runs timeline {} \
         with history {:?}: kept private (no client can connect); an operator must decide \
         (start the authority over at this timeline with `aerodb-promote start-over`, or remove \
         this server and rebuild it from the primary)",
        record.epoch, record.history, state.timeline, state.history
    )
}

/// The next step for node `me`, whose server is `seen`, under the durable `record`.
/// `primary_conninfo` is what a standby of the named primary must stream from;
/// `freeze_expired` says the agent has held a freeze for longer than it may.
pub fn plan(
    me: NodeId,
    record: Option<&Authority>,
    seen: &Seen,
    primary_conninfo: Option<&str>,
    freeze_expired: bool,
) -> Step {
    let names_me = record.is_some_and(|r| r.primary == me);
    match seen {
        Seen::Unreadable { may_write: true, .. } => Step::Fence,
        Seen::Unreadable { why, may_write: false } => {
            Step::Wait(format!("the server cannot be read yet: {why}"))
        }
        Seen::Down { standby: true } => Step::StartPublic,
        Seen::Down { standby: false } => match record {
            None => Step::Wait("no authority record: a primary is not started".to_owned()),
            Some(_) if names_me => Step::StartPrivate,
            Some(record) => Step::Rewind(record.primary),
        },
        Seen::Up(running) => {
            let state = &running.state;
            if !state.in_recovery {
                return match record {
                    Some(record) if names_me && matches(record, state) => {
                        if running.private {
                            Step::OpenUp
                        } else {
                            Step::Leads
                        }
                    }
                    Some(record) if names_me && running.private => Step::Hold(mismatch(record, state)),
                    // Writable, and not the authority's primary at this timeline.
                    _ => Step::Fence,
                };
            }
            if state.replay_paused {
                return Step::Hold(
                    "replay is paused (pg_wal_replay_pause): its position is not at rest, so it is \
                     unknown input; resume replay (SELECT pg_wal_replay_resume()) or remove the pause"
                        .to_owned(),
                );
            }
            let Some(record) = record else {
                return if running.private {
                    Step::OpenUp
                } else {
                    Step::Wait("no authority record yet: a standby waits".to_owned())
                };
            };
            if names_me {
                return promote_step(record, running);
            }
            if running.private {
                return Step::OpenUp;
            }
            if let Some(frozen) = running.frozen_at
                && frozen >= record.epoch.get()
                && !freeze_expired
            {
                return Step::Wait(format!(
                    "replication frozen for an observation under epoch {frozen}: waiting for a decision"
                ));
            }
            match state.history.continuation_of(state.wal_end(), &record.history) {
                Continuation::Compatible => {}
                Continuation::Diverged { .. } => return Step::Resync(record.primary),
                other => {
                    return Step::Hold(format!(
                        "this standby at {} on history {:?} cannot be placed on the authority's history {:?} \
                         ({other:?}): unknown, nothing is changed; an operator must look",
                        state.wal_end(),
                        state.history,
                        record.history
                    ));
                }
            }
            let streams = primary_conninfo.is_some_and(|wanted| running.following == wanted);
            if streams && running.frozen_at.is_none() { Step::Follows } else { Step::Follow(record.primary) }
        }
    }
}

/// A standby the record names: it is promoted only from exactly the validated place, privately.
fn promote_step(record: &Authority, running: &Running) -> Step {
    let state = &running.state;
    if state.receiving {
        return Step::Freeze;
    }
    let start = record.history.latest().start;
    let expected = before_latest(&record.history);
    if expected.as_ref() != Some(&state.history) || state.replayed != start || !state.settled() {
        return Step::Hold(format!(
            "the authority names this node at epoch {} from {} on history {:?}, but this standby has \
             replayed {} (flushed {:?}) on timeline {} with history {:?}: not promoted; an operator \
             must decide (promote another node, or start the authority over)",
            record.epoch, start, expected, state.replayed, state.flushed, state.timeline, state.history
        ));
    }
    // PostgreSQL names the new timeline one past the one it follows (given no later history
    // file, which the agent checks in `pg_wal` before promoting): it must be the epoch.
    if u64::from(state.timeline) + 1 != record.epoch.get() {
        return Step::Hold(format!(
            "the authority names this node at epoch {}, but this standby follows timeline {}: \
             PostgreSQL would promote it onto timeline {}; not promoted (start the authority over \
             at that timeline, or promote another node)",
            record.epoch,
            state.timeline,
            u64::from(state.timeline) + 1
        ));
    }
    if running.private { Step::Promote } else { Step::GoPrivate }
}

#[cfg(test)]
mod tests {
    //! Every combination of a small but complete space of inputs, judged by statements written
    //! from the rule, not from the code: about two million plans.

    use super::*;
    use aerodb_core::{EpochStart, Lsn};

    fn node(name: &str) -> NodeId {
        NodeId::new(name).unwrap()
    }

    fn history(starts: &[u64]) -> EpochHistory {
        let entries = starts
            .iter()
            .enumerate()
            .map(|(i, &start)| EpochStart { epoch: Epoch::new(i as u64 + 1), start: Lsn::new(start) })
            .collect();
        EpochHistory::new(entries).unwrap()
    }

    /// A server at rest at 100 on `timeline` with the history of `starts`.
    fn at_rest(in_recovery: bool, timeline: u32, starts: &[u64]) -> ServerState {
        ServerState {
            system_identifier: 7,
            in_recovery,
            flushed: Some(Lsn::new(100)),
            replayed: Lsn::new(100),
            timeline,
            history: history(starts),
            replay_paused: false,
            receiving: false,
            node: None,
            started: String::new(),
        }
    }

    fn histories() -> Vec<EpochHistory> {
        vec![
            history(&[0]),
            history(&[0, 100]),
            history(&[0, 200]),
            history(&[0, 100, 300]),
            history(&[0, 200, 300]),
        ]
    }

    fn authorities() -> Vec<Option<Authority>> {
        let mut all = vec![None];
        for primary in [node("pg1"), node("pg2")] {
            for history in histories() {
                all.push(Some(Authority { primary, epoch: history.latest().epoch, history }));
            }
        }
        all
    }

    /// Every server the agent cannot talk to: down (set up as a standby or not), or unreadable
    /// (writable or not).
    fn not_running() -> Vec<Seen> {
        vec![
            Seen::Down { standby: false },
            Seen::Down { standby: true },
            Seen::Unreadable { why: "x".into(), may_write: false },
            Seen::Unreadable { why: "x".into(), may_write: true },
        ]
    }

    fn seens() -> Vec<Seen> {
        let mut all = not_running();
        for private in [false, true] {
            for in_recovery in [false, true] {
                for timeline in 1..=3 {
                    for history in histories() {
                        for replayed in [0, 100, 200, 300] {
                            for flushed in [None, Some(100), Some(300)] {
                                for (replay_paused, receiving) in
                                    [(false, false), (true, false), (false, true)]
                                {
                                    for following in ["", "wanted", "elsewhere"] {
                                        for (frozen_at, synchronous) in [None, Some(1), Some(2), Some(3)]
                                            .into_iter()
                                            .flat_map(|f| [(f, ""), (f, FENCE_RULE)])
                                        {
                                            all.push(Seen::Up(Running {
                                                private,
                                                state: ServerState {
                                                    system_identifier: 7,
                                                    in_recovery,
                                                    flushed: flushed.map(Lsn::new),
                                                    replayed: Lsn::new(replayed),
                                                    timeline,
                                                    history: history.clone(),
                                                    replay_paused,
                                                    receiving,
                                                    node: None,
                                                    started: String::new(),
                                                },
                                                following: following.to_owned(),
                                                frozen_at,
                                                synchronous: synchronous.to_owned(),
                                                synchronous_commit: "on".to_owned(),
                                                lowered_for_sessions: false,
                                                caught_up: Vec::new(),
                                                checkpoint_timeline: timeline,
                                            }));
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        all
    }

    /// The server is exactly the authority's primary: named, on its timeline, with its history.
    fn exactly_named(me: NodeId, authority: Option<&Authority>, state: &ServerState) -> bool {
        authority.is_some_and(|a| {
            a.primary == me && u64::from(state.timeline) == a.epoch.get() && state.history == a.history
        })
    }

    #[test]
    fn every_plan_keeps_the_server_unwritable_unless_it_is_exactly_the_named_primary() {
        let me = node("pg1");
        let (authorities, seens) = (authorities(), seens());
        let mut counts = std::collections::BTreeMap::<&str, usize>::new();
        for authority in &authorities {
            let authority = authority.as_ref();
            for seen in &seens {
                for wanted in [Some("wanted"), None] {
                    for expired in [false, true] {
                        let step = plan(me, authority, seen, wanted, expired);
                        let case = || {
                            format!(
                                "{authority:?}\n{seen:?}\nwanted {wanted:?} expired {expired}\n=> {step:?}"
                            )
                        };
                        *counts.entry(kind(&step)).or_default() += 1;
                        match seen {
                            Seen::Up(running) => {
                                let state = &running.state;
                                let writable = !state.in_recovery;
                                let named = exactly_named(me, authority, state);
                                // Public and writable, but not the named primary: fenced, nothing else.
                                if writable && !running.private && !named {
                                    assert_eq!(step, Step::Fence, "{}", case());
                                }
                                // Opened or left open for writes only when exactly named.
                                if matches!(step, Step::Leads) || (matches!(step, Step::OpenUp) && writable) {
                                    assert!(named && !state.replay_paused, "{}", case());
                                }
                                if state.replay_paused && state.in_recovery {
                                    assert!(matches!(step, Step::Hold(_)), "{}", case());
                                }
                                // Promoted only private (the fence is a --synchronous agent's,
                                // plan_with's); a public standby is restarted privately.
                                if let Step::Promote = step {
                                    let a = authority.unwrap();
                                    assert!(
                                        running.private && state.in_recovery && a.primary == me,
                                        "{}",
                                        case()
                                    );
                                    assert!(
                                        !state.receiving && state.flushed.is_none_or(|f| f <= state.replayed),
                                        "{}",
                                        case()
                                    );
                                    assert_eq!(state.replayed, a.history.latest().start, "{}", case());
                                    assert_eq!(u64::from(state.timeline) + 1, a.epoch.get(), "{}", case());
                                    let earlier = &a.history.entries()[..a.history.entries().len() - 1];
                                    assert_eq!(state.history.entries(), earlier, "{}", case());
                                }
                                if let Step::GoPrivate = step {
                                    assert!(!running.private && state.in_recovery, "{}", case());
                                }
                                let placed = authority
                                    .map(|a| state.history.continuation_of(state.wal_end(), &a.history));
                                if let Step::Resync(primary) = step {
                                    let a = authority.unwrap();
                                    assert!(
                                        state.in_recovery
                                            && !running.private
                                            && primary == a.primary
                                            && primary != me,
                                        "{}",
                                        case()
                                    );
                                    assert!(
                                        matches!(placed, Some(Continuation::Diverged { .. })),
                                        "{}",
                                        case()
                                    );
                                }
                                if matches!(step, Step::Follow(_) | Step::Follows) {
                                    // Streaming is asked only of a standby whose WAL the authority's extends.
                                    assert_eq!(placed, Some(Continuation::Compatible), "{}", case());
                                }
                                if let Step::Follow(primary) = step {
                                    let a = authority.unwrap();
                                    assert!(state.in_recovery && !running.private, "{}", case());
                                    assert!(primary == a.primary && primary != me, "{}", case());
                                    let frozen_here = running.frozen_at.is_some_and(|f| f >= a.epoch.get());
                                    assert!(!frozen_here || expired, "a freeze lifted early: {}", case());
                                }
                                // Left as it is only when it already streams from the named primary,
                                // with no freeze left behind.
                                if let Step::Follows = step {
                                    let a = authority.unwrap();
                                    assert!(state.in_recovery && a.primary != me, "{}", case());
                                    assert!(wanted == Some(running.following.as_str()), "{}", case());
                                    assert!(running.frozen_at.is_none(), "{}", case());
                                }
                                assert!(
                                    !matches!(step, Step::StartPrivate | Step::StartPublic | Step::Rewind(_)),
                                    "{}",
                                    case()
                                );
                            }
                            Seen::Down { standby } => {
                                let names_me = authority.is_some_and(|a| a.primary == me);
                                let expected = match (standby, authority) {
                                    (true, _) => Step::StartPublic,
                                    (false, None) => step.clone(),
                                    (false, Some(_)) if names_me => Step::StartPrivate,
                                    (false, Some(a)) => Step::Rewind(a.primary),
                                };
                                assert_eq!(step, expected, "{}", case());
                                assert!(!matches!(step, Step::StartPublic) || *standby, "{}", case());
                            }
                            // Not known to be a standby and public: it may be taking writes.
                            Seen::Unreadable { may_write: true, .. } => {
                                assert_eq!(step, Step::Fence, "{}", case())
                            }
                            Seen::Unreadable { may_write: false, .. } => {
                                assert!(matches!(step, Step::Wait(_)), "{}", case())
                            }
                        }
                    }
                }
            }
        }
        // The space reaches every step the agent can take.
        for step in [
            "Leads",
            "Follows",
            "Wait",
            "Hold",
            "Fence",
            "StartPrivate",
            "StartPublic",
            "OpenUp",
            "GoPrivate",
            "Freeze",
            "Promote",
            "Rewind",
            "Follow",
        ] {
            assert!(counts.get(step).copied().unwrap_or(0) > 0, "no case plans {step}: {counts:?}");
        }
    }

    fn rule(text: &str) -> SyncRule {
        text.parse().unwrap()
    }

    /// Every combination of the duties' inputs over representative servers: a stop asked of
    /// this primary is honoured before anything else and is final; a writable primary applies
    /// a synchronous rule only once its report records it, and the report loses a rule only
    /// when nothing acknowledged could depend on it alone.
    #[test]
    fn every_plan_with_duties_honours_stops_and_records_a_rule_before_applying_it() {
        use aerodb_promotion::{PrimaryReport, Stopped};
        let me = node("pg1");
        let (d, a, b) = (rule("ANY 1 (pg2, pg3)"), rule("FIRST 1 (pg2)"), rule("FIRST 1 (pg3)"));
        let e2 = Epoch::new(2);
        let authorities = [
            None,
            Some(Authority { primary: me, epoch: e2, history: history(&[0, 100]) }),
            Some(Authority { primary: node("pg2"), epoch: e2, history: history(&[0, 100]) }),
        ];
        let mut seens = not_running();
        for private in [false, true] {
            for in_recovery in [false, true] {
                for (timeline, starts) in [(2, &[0, 100][..]), (1, &[0][..])] {
                    for synchronous in
                        ["", "ANY 1 (pg2, pg3)", "FIRST 1 (pg2)", "FIRST 1 (pg3)", "*", FENCE_RULE]
                    {
                        for (synchronous_commit, following, lowered_for_sessions) in
                            ["on", "remote_apply", "off", "local", "remote_write"].into_iter().flat_map(|c| {
                                [(c, "", false), (c, "wanted", false), (c, "", true), (c, "wanted", true)]
                            })
                        {
                            for caught_up in [&[][..], &["pg2"][..], &["pg3"][..], &["pg2", "pg3"][..]] {
                                seens.push(Seen::Up(Running {
                                    private,
                                    state: at_rest(in_recovery, timeline, starts),
                                    following: following.to_owned(),
                                    frozen_at: None,
                                    synchronous: synchronous.to_owned(),
                                    synchronous_commit: synchronous_commit.to_owned(),
                                    lowered_for_sessions,
                                    caught_up: caught_up.iter().map(|s| (*s).to_owned()).collect(),
                                    checkpoint_timeline: timeline,
                                }));
                            }
                        }
                    }
                }
            }
        }
        let stopped = Stopped { checkpoint: aerodb_core::WalPosition::new(e2, Lsn::new(150)), clean: true };
        let mut reports = vec![None];
        for rules in
            [vec![], vec![d.clone()], vec![a.clone()], vec![a.clone(), d.clone()], vec![a.clone(), b.clone()]]
        {
            for requested in [false, true] {
                for stated in [None, Some(stopped)] {
                    let mut report = PrimaryReport::new(e2, me).with_synchronous(rules.clone()).unwrap();
                    if requested {
                        report = report.with_stop_requested();
                    }
                    if let Some(s) = stated {
                        report = report.with_stopped(s);
                    }
                    reports.push(Some(report));
                }
            }
        }
        // Stops asked of another epoch, or of another node: evidence of nothing here.
        reports.push(Some(PrimaryReport::new(Epoch::new(1), me).with_stop_requested().with_stopped(stopped)));
        reports.push(Some(PrimaryReport::new(e2, node("pg2")).with_stop_requested()));
        let syncs =
            [Sync::Unmanaged, Sync::Apply(None), Sync::Apply(Some(d.clone())), Sync::Apply(Some(a.clone()))];
        let mut counts = std::collections::BTreeMap::<&str, usize>::new();
        let mut cases = 0usize;
        for authority in &authorities {
            let authority = authority.as_ref();
            for seen in &seens {
                for report in &reports {
                    for sync in &syncs {
                        let duties = Duties { report: report.clone(), sync: sync.clone(), checkpoint: None };
                        let step = plan_with(me, authority, seen, Some("wanted"), false, &duties);
                        let base = plan(me, authority, seen, Some("wanted"), false);
                        cases += 1;
                        *counts.entry(kind(&step)).or_default() += 1;
                        let case = || {
                            format!(
                                "{authority:?}\n{seen:?}\n{report:?}\n{sync:?}\n=> {step:?} (plan alone: {base:?})"
                            )
                        };
                        let current =
                            report.as_ref().filter(|r| authority.is_some_and(|a| r.is_for(a.epoch, me)));
                        let stop = current.filter(|r| r.stop_requested() || r.stopped().is_some());
                        if let Some(r) = stop {
                            // A stop asked of this primary comes first and is final.
                            let expected = match seen {
                                Seen::Up(_) | Seen::Unreadable { .. } if r.stopped().is_some() => "Fence",
                                Seen::Unreadable { .. } => "Fence",
                                Seen::Up(_) => "Shutdown",
                                Seen::Down { .. } if r.stopped().is_none() => "StateStopped",
                                Seen::Down { .. } => "Wait",
                            };
                            assert_eq!(kind(&step), expected, "{}", case());
                            continue;
                        }
                        if matches!(step, Step::Shutdown | Step::StateStopped) {
                            panic!("a stop nobody asked of this primary at this epoch: {}", case());
                        }
                        let Seen::Up(running) = seen else {
                            assert_eq!(step, base, "{}", case());
                            continue;
                        };
                        // Public, writable and not exactly the named primary: still fenced.
                        if !running.state.in_recovery
                            && !running.private
                            && !exactly_named(me, authority, &running.state)
                        {
                            assert_eq!(step, Step::Fence, "{}", case());
                        }
                        let recorded: &[SyncRule] = current.map_or(&[], |r| r.synchronous());
                        let in_force: Option<Result<SyncRule, _>> = (!running.synchronous.is_empty())
                            .then(|| running.synchronous.parse::<SyncRule>());
                        let writable = matches!(step, Step::Leads)
                            || (matches!(step, Step::OpenUp) && !running.state.in_recovery);
                        let fence = running.synchronous == FENCE_RULE;
                        let weak =
                            ["off", "local", "remote_write"].contains(&running.synchronous_commit.as_str());
                        // Promoted public only under the fence of a --synchronous agent, with
                        // commits that wait for it: acknowledging nothing until checked.
                        if step == Step::Promote && !running.private {
                            assert!(
                                matches!(sync, Sync::Apply(_))
                                    && fence
                                    && !weak
                                    && !running.lowered_for_sessions,
                                "{}",
                                case()
                            );
                        }
                        // Settings some roles or databases lower (any role may lower its own)
                        // only ever choose the private restart over the fence: never a stop.
                        if running.lowered_for_sessions && base != Step::GoPrivate {
                            let unlowered =
                                Seen::Up(Running { lowered_for_sessions: false, ..running.clone() });
                            let step_unlowered =
                                plan_with(me, authority, &unlowered, Some("wanted"), false, &duties);
                            assert_eq!(step, step_unlowered, "{}", case());
                        }
                        if let Step::ArmFence = step {
                            // Armed only on a standby, by a --synchronous agent, when not armed.
                            assert!(matches!(sync, Sync::Apply(_)), "{}", case());
                            assert!(running.state.in_recovery && !fence, "{}", case());
                            assert!(
                                base == Step::Follows
                                    || (base == Step::GoPrivate && !weak && !running.lowered_for_sessions),
                                "{}",
                                case()
                            );
                        }
                        if let (Step::Promote, Sync::Apply(Some(w))) = (&step, sync) {
                            assert!(
                                recorded.contains(w),
                                "promoted before its rule was recorded: {}",
                                case()
                            );
                        }
                        match sync {
                            Sync::Unmanaged if base == Step::Leads && fence => {
                                assert!(matches!(step, Step::Hold(_)), "{}", case())
                            }
                            Sync::Unmanaged => assert_eq!(step, base, "{}", case()),
                            Sync::Apply(wanted) => {
                                // A --synchronous agent's standby is left as it is only armed, and
                                // restarted privately only when commits would pass the fence.
                                if step == Step::Follows {
                                    assert!(fence, "a standby left unarmed: {}", case());
                                }
                                if step == Step::GoPrivate {
                                    assert!(
                                        weak || running.lowered_for_sessions,
                                        "restarted privately, not fenced: {}",
                                        case()
                                    );
                                }
                                // Progress: a rule step changes the report; a leading primary is
                                // held only for a reason; the record narrows once it may.
                                if let Step::RecordRules(rules) = &step {
                                    assert_ne!(
                                        rules.as_slice(),
                                        recorded,
                                        "a step that changes nothing: {}",
                                        case()
                                    );
                                }
                                if base == Step::Leads && !weak {
                                    let recordable = matches!(&in_force, None | Some(Ok(_))) || fence;
                                    let too_many = wanted.as_ref().is_some_and(|w| {
                                        !recorded.contains(w) && recorded.len() >= MAX_SYNC_RULES
                                    });
                                    if recordable && !too_many {
                                        assert!(
                                            !matches!(step, Step::Hold(_)),
                                            "held without a reason: {}",
                                            case()
                                        );
                                    }
                                    if too_many {
                                        assert!(matches!(step, Step::Hold(_)), "{}", case());
                                    }
                                    let narrowable = wanted.as_ref().is_some_and(|w| {
                                        let caught = w
                                            .standbys()
                                            .iter()
                                            .filter(|s| running.caught_up.iter().any(|c| c == s.as_str()))
                                            .count();
                                        matches!(&in_force, Some(Ok(p)) if p == w)
                                            && recorded.contains(w)
                                            && recorded.len() > 1
                                            && caught >= w.count()
                                    });
                                    if narrowable {
                                        let kept = vec![wanted.clone().unwrap()];
                                        assert_eq!(step, Step::RecordRules(kept), "not narrowed: {}", case());
                                    }
                                    if wanted.is_none() && step == Step::Leads {
                                        assert!(recorded.is_empty() && in_force.is_none(), "{}", case());
                                    }
                                }
                                if writable {
                                    // Writable only under the wanted rule, applied and recorded,
                                    // with commits that wait for it.
                                    match wanted {
                                        Some(w) => {
                                            assert!(matches!(&in_force, Some(Ok(p)) if p == w), "{}", case());
                                            assert!(recorded.contains(w), "{}", case());
                                            assert!(
                                                ["on", "remote_apply"]
                                                    .contains(&running.synchronous_commit.as_str()),
                                                "{}",
                                                case()
                                            );
                                        }
                                        None => assert!(in_force.is_none(), "{}", case()),
                                    }
                                }
                                if let Step::ApplyRule(applied) = &step {
                                    assert_eq!(applied, wanted, "{}", case());
                                    if let Some(r) = applied {
                                        assert!(recorded.contains(r), "applied before recorded: {}", case());
                                    }
                                }
                                if let Step::RecordRules(rules) = &step {
                                    assert!(rules.len() <= MAX_SYNC_RULES, "{}", case());
                                    // A rule leaves the record only when not in force and every
                                    // commit is bounded without it: by the one in force, caught up
                                    // on a public server, or by no rule at all (nothing derived).
                                    for gone in recorded.iter().filter(|r| !rules.contains(r)) {
                                        assert!(!matches!(&in_force, Some(Ok(p)) if p == gone), "{}", case());
                                        let kept_caught_up = match rules.as_slice() {
                                            [] => in_force.is_none(),
                                            [kept] => {
                                                let caught = kept
                                                    .standbys()
                                                    .iter()
                                                    .filter(|s| {
                                                        running.caught_up.iter().any(|c| c == s.as_str())
                                                    })
                                                    .count();
                                                !running.private
                                                    && matches!(&in_force, Some(Ok(p)) if p == kept)
                                                    && caught >= kept.count()
                                            }
                                            _ => false,
                                        };
                                        assert!(kept_caught_up, "a rule dropped too soon: {}", case());
                                    }
                                }
                                let before_promotion = matches!(
                                    (&base, &step),
                                    (Step::Follows | Step::GoPrivate, Step::ArmFence)
                                        | (Step::GoPrivate, Step::Promote)
                                        | (
                                            Step::Promote | Step::GoPrivate,
                                            Step::RecordRules(_) | Step::Hold(_)
                                        )
                                );
                                if !writable
                                    && !matches!(base, Step::Leads | Step::OpenUp)
                                    && !before_promotion
                                {
                                    assert_eq!(step, base, "{}", case());
                                }
                            }
                        }
                    }
                }
            }
        }
        for step in [
            "Shutdown",
            "StateStopped",
            "RecordRules",
            "ApplyRule",
            "Fence",
            "Hold",
            "Leads",
            "OpenUp",
            "Wait",
            "ArmFence",
            "Promote",
            "GoPrivate",
            "Follows",
        ] {
            assert!(counts.get(step).copied().unwrap_or(0) > 0, "no case plans {step}: {counts:?}");
        }
        println!("{cases} cases: {counts:?}");
    }

    /// A stopped former primary follows the new one without `pg_rewind` exactly when it shut
    /// down cleanly and the authority's next epoch began after its last checkpoint record;
    /// otherwise it is rewound as before, and nothing else changes.
    #[test]
    fn a_clean_former_primary_rejoins_without_rewind_only_before_the_switch_point() {
        let me = node("pg1");
        let authorities = [
            None,
            Some(Authority { primary: me, epoch: Epoch::new(2), history: history(&[0, 100]) }),
            Some(Authority { primary: node("pg2"), epoch: Epoch::new(2), history: history(&[0, 100]) }),
            Some(Authority { primary: node("pg2"), epoch: Epoch::new(3), history: history(&[0, 100, 300]) }),
        ];
        let seens = [
            Seen::Down { standby: false },
            Seen::Down { standby: true },
            Seen::Unreadable { why: "x".into(), may_write: true },
        ];
        let mut checkpoints = vec![None];
        for timeline in 1..=3 {
            for lsn in [50, 99, 100, 150, 299, 300, 350] {
                for clean in [false, true] {
                    checkpoints.push(Some(Checkpoint { timeline, lsn: Lsn::new(lsn), clean }));
                }
            }
        }
        let mut rejoined = 0;
        for authority in &authorities {
            for seen in &seens {
                for checkpoint in &checkpoints {
                    let duties = Duties { report: None, sync: Sync::Unmanaged, checkpoint: *checkpoint };
                    let step = plan_with(me, authority.as_ref(), seen, Some("wanted"), false, &duties);
                    let base = plan(me, authority.as_ref(), seen, Some("wanted"), false);
                    // Where the checkpoint's timeline ends on the authority's history, if it does.
                    let ends = authority.as_ref().zip(*checkpoint).and_then(|(a, c)| {
                        let starts: Vec<(u64, u64)> =
                            a.history.entries().iter().map(|e| (e.epoch.get(), e.start.get())).collect();
                        let i = starts.iter().position(|(e, _)| *e == u64::from(c.timeline))?;
                        starts.get(i + 1).map(|(_, start)| *start)
                    });
                    let expected = match (seen, authority, checkpoint) {
                        (Seen::Down { standby: false }, Some(a), Some(c))
                            if a.primary != me && c.clean && ends.is_some_and(|end| end > c.lsn.get()) =>
                        {
                            rejoined += 1;
                            Step::Rejoin(a.primary)
                        }
                        _ => base,
                    };
                    assert_eq!(step, expected, "{authority:?} {seen:?} {checkpoint:?}");
                }
            }
        }
        assert!(rejoined > 0);
    }

    fn kind(step: &Step) -> &'static str {
        match step {
            Step::Shutdown => "Shutdown",
            Step::StateStopped => "StateStopped",
            Step::RecordRules(_) => "RecordRules",
            Step::ApplyRule(_) => "ApplyRule",
            Step::Rejoin(_) => "Rejoin",
            Step::Leads => "Leads",
            Step::Follows => "Follows",
            Step::Wait(_) => "Wait",
            Step::Hold(_) => "Hold",
            Step::Fence => "Fence",
            Step::StartPrivate => "StartPrivate",
            Step::StartPublic => "StartPublic",
            Step::OpenUp => "OpenUp",
            Step::GoPrivate => "GoPrivate",
            Step::ArmFence => "ArmFence",
            Step::Checkpoint => "Checkpoint",
            Step::Freeze => "Freeze",
            Step::Promote => "Promote",
            Step::Rewind(_) => "Rewind",
            Step::Resync(_) => "Resync",
            Step::Follow(_) => "Follow",
        }
    }

    /// A primary promoted without a checkpoint on its timeline checkpoints once it leads, and
    /// only then: with every agent mode, and never while fenced, private or a standby.
    #[test]
    fn a_leading_primary_checkpoints_its_new_timeline_once_open() {
        let me = node("pg1");
        let record = Authority { primary: me, epoch: Epoch::new(2), history: history(&[0, 100]) };
        let wanted = rule("FIRST 1 (pg2)");
        let report = PrimaryReport::new(Epoch::new(2), me).with_synchronous(vec![wanted.clone()]).unwrap();
        let syncs = [
            (Sync::Unmanaged, ""),
            (Sync::Apply(Some(wanted.clone())), "FIRST 1 (pg2)"),
            (Sync::Apply(Some(wanted.clone())), FENCE_RULE),
        ];
        for (sync, synchronous) in syncs {
            for private in [false, true] {
                for (in_recovery, timeline, starts) in [(false, 2, &[0, 100][..]), (true, 1, &[0][..])] {
                    for checkpoint_timeline in [1, 2] {
                        let running = Running {
                            private,
                            state: at_rest(in_recovery, timeline, starts),
                            following: String::new(),
                            frozen_at: None,
                            synchronous: synchronous.to_owned(),
                            synchronous_commit: "on".to_owned(),
                            lowered_for_sessions: false,
                            caught_up: vec!["pg2".to_owned()],
                            checkpoint_timeline,
                        };
                        let duties =
                            Duties { report: Some(report.clone()), sync: sync.clone(), checkpoint: None };
                        let step = plan_with(me, Some(&record), &Seen::Up(running), None, false, &duties);
                        let leads_open = !private && !in_recovery && synchronous != FENCE_RULE;
                        assert_eq!(
                            step == Step::Checkpoint,
                            leads_open && checkpoint_timeline < timeline,
                            "{sync:?} {synchronous} private {private} recovery {in_recovery} checkpoint on {checkpoint_timeline}: {step:?}"
                        );
                    }
                }
            }
        }
    }

    /// The timeline PostgreSQL chose differs from the record: kept private and reported.
    #[test]
    fn a_promotion_onto_another_timeline_is_kept_private_with_what_to_do() {
        let record = Authority { primary: node("pg1"), epoch: Epoch::new(2), history: history(&[0, 100]) };
        let state = ServerState {
            system_identifier: 7,
            in_recovery: false,
            flushed: Some(Lsn::new(100)),
            replayed: Lsn::new(100),
            timeline: 3,
            history: history(&[0, 100, 100]),
            replay_paused: false,
            receiving: false,
            node: None,
            started: String::new(),
        };
        let running = Running {
            private: true,
            state,
            following: String::new(),
            frozen_at: None,
            synchronous: String::new(),
            synchronous_commit: "on".to_owned(),
            lowered_for_sessions: false,
            caught_up: Vec::new(),
            checkpoint_timeline: 3,
        };
        let Step::Hold(report) = plan(node("pg1"), Some(&record), &Seen::Up(running), None, false) else {
            panic!("not held")
        };
        assert!(report.contains("timeline 3") && report.contains("start-over"), "{report}");
    }
}
