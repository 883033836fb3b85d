//! The agent's one decision: from the durable authority and what its server is now, the next
//! step. Pure (no I/O, no clock), so every pair of inputs can be checked; the agent runs one step,
//! reads everything again and asks again, so a step interrupted by a kill is simply asked for
//! again.
//!
//! The rule it enforces (P6-A1 at the database): the server accepts writes from clients only
//! when it is public, out of recovery, and the authority names this node at exactly the
//! server's timeline with exactly the server's timeline history. Anything else that could
//! write is fenced (stopped at once) or kept private (no TCP, only its owner can connect).

use aerodb_core::{EpochHistory, NodeId};
use aerodb_postgres::observe::ServerState;
use aerodb_promotion::AuthorityRecord;

/// What the agent found of its server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// No postmaster runs; `standby` when the data directory holds `standby.signal`.
    Down {
        /// Set up as a standby.
        standby: bool,
    },
    /// A running server, as it reports itself.
    Up(Running),
    /// A postmaster runs but could not be read (starting, stopping, refusing): wait.
    Unreadable(String),
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
    /// Restart the public standby privately: it is to be promoted.
    GoPrivate,
    /// Stop the standby's WAL receiver (`primary_conninfo = ''`) so its position holds.
    Freeze,
    /// Promote the private standby (`pg_promote`): its history and switch point are the
    /// record's.
    Promote,
    /// Rewind the stopped former primary from `source` and set it up as its standby.
    Rewind(NodeId),
    /// Stream from `primary`, and lift a freeze.
    Follow(NodeId),
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
fn matches(record: &AuthorityRecord, state: &ServerState) -> bool {
    u64::from(state.timeline) == record.epoch().get() && state.history == *record.epoch_history()
}

fn mismatch(record: &AuthorityRecord, state: &ServerState) -> String {
    format!(
        "the authority names this node at epoch {} with history {:?}, but PostgreSQL runs timeline {} \
         with history {:?}: kept private (no client can connect); an operator must decide \
         (start the authority over at this timeline with `aerodb-promote start-over`, or remove \
         this server and rebuild it from the primary)",
        record.epoch(),
        record.epoch_history(),
        state.timeline,
        state.history
    )
}

/// The next step for node `me`, whose server is `seen`, under the durable `record`.
/// `primary_conninfo` is what a standby of the named primary must stream from;
/// `freeze_expired` says the agent has held a freeze for longer than it may.
pub fn plan(
    me: NodeId,
    record: Option<&AuthorityRecord>,
    seen: &Seen,
    primary_conninfo: Option<&str>,
    freeze_expired: bool,
) -> Step {
    let names_me = record.is_some_and(|r| r.primary() == me);
    match seen {
        Seen::Unreadable(why) => Step::Wait(format!("the server cannot be read yet: {why}")),
        Seen::Down { standby: true } => Step::StartPublic,
        Seen::Down { standby: false } => match record {
            None => Step::Wait("no authority record: a primary is not started".to_owned()),
            Some(_) if names_me => Step::StartPrivate,
            Some(record) => Step::Rewind(record.primary()),
        },
        Seen::Up(running) => {
            let state = &running.state;
            if state.replay_paused {
                return Step::Hold(
                    "replay is paused (pg_wal_replay_pause): its position is not at rest, so it is \
                     unknown input; resume replay (SELECT pg_wal_replay_resume()) or remove the pause"
                        .to_owned(),
                );
            }
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
                && frozen >= record.epoch().get()
                && !freeze_expired
            {
                return Step::Wait(format!(
                    "replication frozen for an observation under epoch {frozen}: waiting for a decision"
                ));
            }
            let streams = primary_conninfo.is_some_and(|wanted| running.following == wanted);
            if streams && running.frozen_at.is_none() {
                Step::Follows
            } else {
                Step::Follow(record.primary())
            }
        }
    }
}

/// A standby the record names: it is promoted only from exactly the validated place, privately.
fn promote_step(record: &AuthorityRecord, running: &Running) -> Step {
    let state = &running.state;
    if state.receiving {
        return Step::Freeze;
    }
    let start = record.epoch_history().latest().start;
    let expected = before_latest(record.epoch_history());
    if expected.as_ref() != Some(&state.history) || state.replayed != start || !state.settled() {
        return Step::Hold(format!(
            "the authority names this node at epoch {} from {} on history {:?}, but this standby has \
             replayed {} (flushed {:?}) on timeline {} with history {:?}: not promoted; an operator \
             must decide (promote another node, or start the authority over)",
            record.epoch(),
            start,
            expected,
            state.replayed,
            state.flushed,
            state.timeline,
            state.history
        ));
    }
    if running.private { Step::Promote } else { Step::GoPrivate }
}
