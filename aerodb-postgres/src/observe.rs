//! What a control plane observes of one PostgreSQL server over SQL, and the [`NodeView`] the
//! validator reads from it. Only what the server reports is used; nothing is inferred from
//! timing (P6-A3). Needs a role with `REPLICATION` (and `pg_monitor`): what the server is comes
//! from the server itself (`IDENTIFY_SYSTEM`, `TIMELINE_HISTORY`), never from the newest history
//! file in `pg_wal/`.

use std::time::{Duration, Instant};

use aerodb_core::{EpochHistory, HaltReason, Lsn, MvccBoundary, NodeId, ReplicationState, WalPosition};
use aerodb_promotion::NodeView;
use postgres::types::PgLsn;
use postgres::{Config, NoTls};

use crate::timeline::{self, TimelineError};
use crate::walsender::{self, WalSenderError};

/// A PostgreSQL error with the server's own message and code, not just "db error".
pub fn message(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => std::error::Error::source(error)
            .map_or_else(|| error.to_string(), |cause| format!("{error}: {cause}")),
    }
}

/// Why a server could not be observed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObserveError {
    /// No connection could be made and nothing answered: the server is down or cannot be
    /// reached.
    #[error("unreachable: {}", message(.0))]
    Unreachable(postgres::Error),
    /// The server answered, refusing the connection (authentication, too many clients, starting
    /// up): it is alive, whatever it refused.
    #[error("answered, refusing the connection: {}", message(.0))]
    Refused(postgres::Error),
    /// A query failed on a server that answered.
    #[error("query failed: {}", message(.0))]
    Query(#[from] postgres::Error),
    /// The server's timeline history was refused.
    #[error(transparent)]
    Timeline(#[from] TimelineError),
    /// The server could not be asked what it is over a replication connection.
    #[error(transparent)]
    WalSender(#[from] WalSenderError),
    /// A standby's WAL receiver still ran after it was asked to stop.
    #[error("the standby's WAL receiver still runs {0:?} after it was asked to stop")]
    StillReceiving(Duration),
    /// A standby that has replayed no WAL at all.
    #[error("the standby reports no replayed WAL position")]
    NothingReplayed,
}

/// A server as observed: its role, WAL positions and timeline history, as the server reports
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerState {
    /// The database system identifier (`IDENTIFY_SYSTEM`): the same on every node of a cluster.
    pub system_identifier: u64,
    /// `pg_is_in_recovery()`: a standby (or a server still recovering).
    pub in_recovery: bool,
    /// A standby's `pg_last_wal_receive_lsn()`: WAL received and flushed to its disk
    /// (`None` if it never streamed); a primary's `pg_current_wal_flush_lsn()`.
    pub flushed: Option<Lsn>,
    /// A standby's `pg_last_wal_replay_lsn()`: the end of the last WAL record it applied; a
    /// primary's flushed position.
    pub replayed: Lsn,
    /// The timeline the server is on (`IDENTIFY_SYSTEM`): a primary's insert timeline, a
    /// standby's replay timeline.
    pub timeline: u32,
    /// That timeline's history as an epoch history (`TIMELINE_HISTORY`, from the server).
    pub history: EpochHistory,
    /// A standby whose replay is paused (`pg_get_wal_replay_pause_state()`): not at rest.
    pub replay_paused: bool,
    /// A standby with a WAL receiver running: its received position can still move.
    pub receiving: bool,
    /// The node id its agent started it as (`aerodb.node`), if an agent did.
    pub node: Option<String>,
    /// When its postmaster started (`pg_postmaster_start_time()`): with `node`, which server
    /// this is, so two cluster-file lines reaching one server are seen.
    pub started: String,
}

impl ServerState {
    /// Where this server's WAL ends, on its own history: the replayed position, which is what
    /// a promotion would start the next timeline from.
    pub fn wal_end(&self) -> WalPosition {
        timeline::position(&self.history, self.replayed)
    }

    /// Whether replay has applied everything flushed (a standby at rest).
    pub fn settled(&self) -> bool {
        self.flushed.is_none_or(|flushed| self.replayed >= flushed)
    }

    /// The validator's view of this server as node `id`: a standby is `ReplicaActive`, a
    /// server out of recovery `PrimaryActive`. PostgreSQL makes a commit visible exactly when
    /// its commit record is applied, so readers see a whole-commit prefix ending at or before
    /// the replayed position: the MVCC boundary (P6-S3) is at rest there. A standby whose
    /// replay is paused or behind what it flushed is not at rest: halted (`Configuration`),
    /// never promoted, and its WAL end is what it flushed — a synchronous standby acknowledges
    /// on flush, so a bound derived from it must not stop at its replay (P6-S1).
    pub fn node_view(&self, id: NodeId) -> NodeView {
        let at_rest = !self.replay_paused && self.settled();
        let role = if !at_rest {
            ReplicationState::ReplicationHalted { reason: HaltReason::Configuration }
        } else if self.in_recovery {
            ReplicationState::ReplicaActive
        } else {
            ReplicationState::PrimaryActive
        };
        let end = match self.flushed {
            Some(flushed) if flushed > self.replayed => timeline::position(&self.history, flushed),
            _ => self.wal_end(),
        };
        NodeView::new(id, role, end)
            .with_history(self.history.clone())
            .with_mvcc(MvccBoundary::at_rest(self.replayed))
    }
}

/// Observes the server `config` names: over SQL, and over a replication connection for what
/// the server is (its system identifier, timeline and that timeline's history).
pub fn observe(config: &Config) -> Result<ServerState, ObserveError> {
    let mut client = config.connect(NoTls).map_err(|error| {
        // A server that sent an error message is alive: never mistaken for a stopped one.
        if error.as_db_error().is_some() {
            ObserveError::Refused(error)
        } else {
            ObserveError::Unreachable(error)
        }
    })?;
    let row = client.query_one(
        "SELECT pg_is_in_recovery(),
                CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_flush_lsn() END,
                CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_flush_lsn() END,
                pg_is_in_recovery() AND pg_get_wal_replay_pause_state() <> 'not paused',
                EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE pid IS NOT NULL),
                nullif(current_setting('aerodb.node', true), ''),
                pg_postmaster_start_time()::text",
        &[],
    )?;
    let in_recovery: bool = row.try_get(0)?;
    let flushed: Option<PgLsn> = row.try_get(1)?;
    let replayed: Option<PgLsn> = row.try_get(2)?;
    let replay_paused: bool = row.try_get(3)?;
    let receiving: bool = row.try_get(4)?;
    let node: Option<String> = row.try_get(5)?;
    let started: String = row.try_get(6)?;
    let replayed = replayed.ok_or(ObserveError::NothingReplayed)?;
    let (identity, history) = walsender::identify(config)?;
    let history = timeline::history(identity.timeline, history.as_deref())?;
    Ok(ServerState {
        system_identifier: identity.system_identifier,
        in_recovery,
        flushed: flushed.map(timeline::lsn),
        replayed: timeline::lsn(replayed),
        timeline: identity.timeline,
        history,
        replay_paused,
        receiving,
        node,
        started,
    })
}

/// Makes the session know the custom setting `aerodb.frozen_at`, which `ALTER SYSTEM` refuses
/// to set otherwise.
pub const FROZEN_PLACEHOLDER: &str = "SET aerodb.frozen_at = ''";

/// Freezes the standby `config` names so its position holds while it is judged: its WAL receiver
/// is stopped and archive recovery off, durably (`primary_conninfo = ''`, `restore_command =
/// ''`, kept across restarts), marked with the authority
/// epoch it was frozen under (`aerodb.frozen_at`, which its agent reads to lift the freeze when
/// no promotion follows), and confirmed gone, for at most `limit`. A primary is left alone.
pub fn freeze(config: &Config, epoch: u64, limit: Duration) -> Result<(), ObserveError> {
    let mut client = config.connect(NoTls)?;
    let standby: bool = client.query_one("SELECT pg_is_in_recovery()", &[])?.try_get(0)?;
    if !standby {
        return Ok(());
    }
    // One statement at a time: ALTER SYSTEM refuses to run inside a transaction block.
    for statement in [
        FROZEN_PLACEHOLDER.to_owned(),
        "ALTER SYSTEM SET primary_conninfo = ''".to_owned(),
        // Nor from an archive: a frozen position must hold.
        "ALTER SYSTEM SET restore_command = ''".to_owned(),
        format!("ALTER SYSTEM SET aerodb.frozen_at = '{epoch}'"),
        "SELECT pg_reload_conf()".to_owned(),
    ] {
        client.batch_execute(&statement)?;
    }
    let deadline = Instant::now() + limit;
    loop {
        let receiving: bool = client
            .query_one("SELECT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE pid IS NOT NULL)", &[])?
            .try_get(0)?;
        if !receiving {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(ObserveError::StillReceiving(limit));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Observes a standby until replay has applied everything it flushed, for at most `limit`
/// (polled every 5 ms). Returns the last observation either way: an unsettled standby's WAL
/// end is its replayed position, which denies rather than overstates (P6-F1).
pub fn observe_settled(config: &Config, limit: Duration) -> Result<ServerState, ObserveError> {
    let deadline = Instant::now() + limit;
    loop {
        let state = observe(config)?;
        if state.settled() || Instant::now() >= deadline {
            return Ok(state);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aerodb_core::Epoch;

    fn standby(flushed: Option<u64>, replayed: u64) -> ServerState {
        let history = timeline::history(2, Some("1\t0/100\tr\n")).unwrap();
        ServerState {
            system_identifier: 7,
            in_recovery: true,
            flushed: flushed.map(Lsn::new),
            replayed: Lsn::new(replayed),
            timeline: 2,
            history,
            replay_paused: false,
            receiving: false,
            node: None,
            started: String::new(),
        }
    }

    #[test]
    fn a_standby_is_settled_when_replay_reaches_what_it_flushed() {
        assert!(standby(Some(0x180), 0x180).settled());
        assert!(standby(None, 0x180).settled());
        assert!(!standby(Some(0x181), 0x180).settled());
    }

    /// A standby at rest is seen at its replayed end, on its own history; readers rest there.
    /// One whose replay lags what it flushed (paused, delayed, waiting on a query) is halted
    /// and seen at its flushed end: it may have acknowledged that much (P6-S1).
    #[test]
    fn the_view_is_the_replayed_end_at_rest_and_the_flushed_end_otherwise() {
        let view = standby(Some(0x80), 0x80).node_view(NodeId::new("pg2").unwrap());
        assert_eq!(view.position, WalPosition::new(Epoch::new(1), Lsn::new(0x80)));
        assert_eq!(view.replication, ReplicationState::ReplicaActive);
        assert_eq!(view.mvcc, Some(MvccBoundary::at_rest(Lsn::new(0x80))));
        let halted = ReplicationState::ReplicationHalted { reason: HaltReason::Configuration };
        let lagging = standby(Some(0x300), 0x150).node_view(NodeId::new("pg3").unwrap());
        assert_eq!(lagging.position, WalPosition::new(Epoch::new(2), Lsn::new(0x300)));
        assert_eq!(lagging.replication, halted);
        assert_eq!(lagging.mvcc, Some(MvccBoundary::at_rest(Lsn::new(0x150))));
        let paused = ServerState { replay_paused: true, ..standby(Some(0x80), 0x80) };
        assert_eq!(paused.node_view(NodeId::new("pg3").unwrap()).replication, halted);
        let primary = ServerState { in_recovery: false, ..standby(Some(0x180), 0x180) };
        let view = primary.node_view(NodeId::new("pg1").unwrap());
        assert_eq!(view.position, WalPosition::new(Epoch::new(2), Lsn::new(0x180)));
        assert_eq!(view.replication, ReplicationState::PrimaryActive);
    }
}
