//! The failover of a real PostgreSQL cluster, driven by AeroDB promotion through its public API.
//! Shared by `examples/postgres_failover.rs` and `tests/postgres_failover.rs`.

use std::collections::BTreeSet;
use std::error::Error;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use aerodb::core::{Epoch, EpochHistory, Lsn, NodeId, ReplicationState};
use aerodb::promotion::{
    AuthorityRecord, AuthorityStore, Decision, FileAuthorityStore, Invariant, OldPrimary, PromotionPolicy,
    PromotionRequest, ValidationInputs, WriteAuthority, read_record, recover,
};
use aerodb_etcd::{Connection, EtcdAuthorityStore};
use aerodb_postgres::local::{Programs, Site};
use aerodb_postgres::observe::{ServerState, observe, observe_settled};
use postgres::Client;
use postgres::types::PgLsn;

type Failure = Box<dyn Error + Send + Sync>;

/// How long the cluster may take to reach a state the scenario waits for.
const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// What the scenario observed, for its test to check.
#[derive(Debug, Clone)]
pub struct Report {
    /// Ids of the rows whose commit the client saw acknowledged.
    pub acknowledged: Vec<i64>,
    /// The invariant the asynchronous standby's promotion violated (`None`: approved).
    pub async_denied: Option<Invariant>,
    /// The authority record after the failover.
    pub record: AuthorityRecord,
    /// The timeline the new primary runs on.
    pub timeline: u32,
    /// That timeline's history file, as an epoch history.
    pub timeline_history: EpochHistory,
    /// Ids of the rows on the new primary after the failover.
    pub rows_on_new_primary: BTreeSet<i64>,
    /// The restarted old primary, as observed.
    pub old_primary: ServerState,
    /// The SQLSTATE with which the restarted old primary refused a write (`None`: admitted).
    pub old_primary_write: Option<String>,
    /// Whether a write on the new primary, synchronous to the rejoined old primary, is
    /// visible there.
    pub rejoined_follows: bool,
}

impl Report {
    /// Each claim of the failover that does not hold; empty when all do.
    pub fn failures(&self) -> Vec<String> {
        let lost: Vec<i64> =
            self.acknowledged.iter().copied().filter(|id| !self.rows_on_new_primary.contains(id)).collect();
        let checks = [
            (
                self.async_denied == Some(Invariant::P6S1),
                format!("pg3's promotion: {:?}, not denied by P6-S1", self.async_denied),
            ),
            (
                self.record.primary() == node("pg2"),
                format!("the authority names {}, not pg2", self.record.primary()),
            ),
            (
                self.record.epoch() == Epoch::new(u64::from(self.timeline)),
                format!("record epoch {} but PostgreSQL timeline {}", self.record.epoch(), self.timeline),
            ),
            (
                self.timeline_history == *self.record.epoch_history(),
                format!(
                    "PostgreSQL's history {:?} differs from the record's {:?}",
                    self.timeline_history,
                    self.record.epoch_history()
                ),
            ),
            (lost.is_empty(), format!("acknowledged rows lost: {lost:?}")),
            (self.old_primary.in_recovery, "the restarted old primary is not in recovery".to_owned()),
            (
                self.old_primary_write.as_deref() == Some("25006"),
                format!(
                    "the old primary's write: {:?}, not refused as read-only (25006)",
                    self.old_primary_write
                ),
            ),
            (self.rejoined_follows, "the old primary does not follow the new one".to_owned()),
        ];
        checks.into_iter().filter(|(holds, _)| !holds).map(|(_, failure)| failure).collect()
    }
}

/// Where the controller keeps the authority.
#[derive(Debug, Clone)]
pub enum Authority {
    /// A file store in `<root>/authority`.
    File,
    /// A key in etcd.
    Etcd(Connection, String),
}

impl Authority {
    fn open(&self, root: &Path) -> Result<Box<dyn AuthorityStore>, Failure> {
        Ok(match self {
            Authority::File => Box::new(FileAuthorityStore::open(root.join("authority"))?),
            Authority::Etcd(connection, key) => Box::new(EtcdAuthorityStore::open(connection, key)?),
        })
    }

    /// What a node agent reads: the durable record, without a controller's handle.
    fn read(&self, root: &Path) -> Result<Option<AuthorityRecord>, Failure> {
        Ok(match self {
            Authority::File => read_record(root.join("authority"))?,
            Authority::Etcd(connection, key) => aerodb_etcd::read_record(connection, key)?,
        })
    }
}

impl std::fmt::Display for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Authority::File => f.write_str("a file store"),
            Authority::Etcd(connection, key) => {
                write!(f, "etcd ({}) key {key}", connection.endpoints.join(","))
            }
        }
    }
}

fn node(name: &str) -> NodeId {
    NodeId::new(name).expect("the scenario's node names are valid")
}

/// Polls `done` every 50 ms until it holds, for at most [`WAIT_LIMIT`].
fn wait_for(what: &str, mut done: impl FnMut() -> Result<bool, Failure>) -> Result<(), Failure> {
    let deadline = Instant::now() + WAIT_LIMIT;
    while !done()? {
        if Instant::now() >= deadline {
            return Err(format!("gave up after {} s waiting for {what}", WAIT_LIMIT.as_secs()).into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// `(application_name, sync_state, flush_lsn)` of each standby streaming from `client`'s server.
fn replication(client: &mut Client) -> Result<Vec<(String, String, String)>, Failure> {
    let rows = client.query(
        "SELECT application_name, sync_state, coalesce(flush_lsn::text, 'none')
           FROM pg_stat_replication WHERE state = 'streaming' ORDER BY application_name",
        &[],
    )?;
    let mut streaming = Vec::new();
    for row in rows {
        streaming.push((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?));
    }
    Ok(streaming)
}

fn show(out: &mut dyn Write, name: &str, state: &ServerState) -> Result<(), Failure> {
    let pg = |lsn: Lsn| format!("{} ({lsn})", PgLsn::from(lsn.get()));
    let flushed = state.flushed.map_or_else(|| "none".to_owned(), pg);
    let history: Vec<String> =
        state.history.entries().iter().map(|e| format!("{}@{}", e.epoch, e.start)).collect();
    writeln!(
        out,
        "   {name}: in recovery {}, flushed {flushed}, replayed {}, timeline {} (history [{}]), WAL end {}",
        state.in_recovery,
        pg(state.replayed),
        state.timeline,
        history.join(", "),
        state.wal_end()
    )?;
    Ok(())
}

fn indent(out: &mut dyn Write, text: &str) -> Result<(), Failure> {
    for line in text.lines() {
        writeln!(out, "   {line}")?;
    }
    Ok(())
}

/// Runs the whole failover with servers under `root` (which must exist and be empty) and the
/// authority in `authority`, writing `rows` acknowledged rows first; prints each step to `out`.
pub fn run(root: &Path, authority: &Authority, rows: i64, out: &mut dyn Write) -> Result<Report, Failure> {
    let site = Site::new(Programs::locate()?, root)?;
    writeln!(out, "PostgreSQL failover driven by AeroDB promotion")?;
    writeln!(
        out,
        "server programs: {}; servers under {}",
        site.programs().bindir().display(),
        root.display()
    )?;

    // 1. The cluster and its authority.
    writeln!(out, "\n== 1. initdb pg1; pg2 and pg3 by pg_basebackup; pg2 synchronous, pg3 asynchronous")?;
    let mut pg1 = site.initdb("pg1")?;
    pg1.start()?;
    let mut primary = pg1.connect()?;
    primary.batch_execute("CREATE TABLE acked (id bigint PRIMARY KEY, note text NOT NULL)")?;
    let mut pg2 = site.base_backup(&pg1, "pg2")?;
    pg2.start()?;
    let mut pg3 = site.base_backup(&pg1, "pg3")?;
    pg3.start()?;
    primary.batch_execute("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (pg2)'")?;
    primary.batch_execute("SELECT pg_reload_conf()")?;
    wait_for("pg2 synchronous and pg3 asynchronous", || {
        let streaming = replication(&mut primary)?;
        let states: Vec<(&str, &str)> = streaming.iter().map(|(n, s, _)| (n.as_str(), s.as_str())).collect();
        Ok(states == [("pg2", "sync"), ("pg3", "async")])
    })?;
    for (server, role) in [(&pg1, "primary"), (&pg2, "synchronous standby"), (&pg3, "asynchronous standby")] {
        writeln!(out, "   {} on 127.0.0.1:{}: {role}", server.name(), server.port())?;
    }
    let mut store = authority.open(root)?;
    let first = store.bootstrap(node("pg1"))?;
    let recovered = recover(store.as_ref())?;
    let pg1_gate = WriteAuthority::replica(node("pg1"), Some(&first))?;
    let grant = recovered.grant.ok_or("the bootstrapped record has no grant")?;
    grant.rebind(ReplicationState::Uninitialized, &pg1_gate, store.as_ref())?;
    writeln!(
        out,
        "   authority bootstrapped in {authority}: pg1 leads epoch 1 = timeline 1; pg1's gate admits writes at epoch {}",
        pg1_gate.admit_write()?
    )?;

    // 2. Make pg3 certainly behind, then write with synchronous commit.
    writeln!(out, "\n== 2. cut pg3's replication, then write {rows} rows with synchronous commit")?;
    let mut standby3 = pg3.connect()?;
    standby3.batch_execute("ALTER SYSTEM SET primary_conninfo = ''")?;
    standby3.batch_execute("SELECT pg_reload_conf()")?;
    wait_for("pg3 to stop streaming", || {
        let receivers: i64 =
            standby3.query_one("SELECT count(*) FROM pg_stat_wal_receiver", &[])?.try_get(0)?;
        let streaming = replication(&mut primary)?;
        Ok(receivers == 0 && streaming.iter().all(|(name, _, _)| name != "pg3"))
    })?;
    let mut acknowledged = Vec::new();
    for id in 1..=rows {
        primary.execute("INSERT INTO acked VALUES ($1, $2)", &[&id, &format!("row {id} at epoch 1")])?;
        acknowledged.push(id);
    }
    writeln!(
        out,
        "   acknowledged: {} commits (synchronous_commit = on: each flushed on pg2 first)",
        acknowledged.len()
    )?;
    for (name, sync, flush) in replication(&mut primary)? {
        writeln!(out, "   pg_stat_replication on pg1: {name} {sync}, flushed {flush}")?;
    }
    drop(primary);

    // 3. The primary's host crashes.
    writeln!(out, "\n== 3. SIGKILL pg1 (its postmaster and every backend: no clean shutdown)")?;
    pg1.kill()?;
    writeln!(out, "   pg1 confirmed stopped: no process of it is left")?;

    // 4. Observe the standbys; build the validation inputs from what they report.
    writeln!(out, "\n== 4. observe the standbys over SQL")?;
    let mut standby2 = pg2.connect()?;
    let seen2 = observe_settled(&pg2.conninfo().parse()?, WAIT_LIMIT)?;
    let seen3 = observe_settled(&pg3.conninfo().parse()?, WAIT_LIMIT)?;
    show(out, "pg2", &seen2)?;
    show(out, "pg3", &seen3)?;
    // pg2 was the synchronous standby (FIRST 1) for every acknowledged commit: what it flushed
    // covers every commit a client heard acknowledged.
    let flushed = seen2.flushed.ok_or("the synchronous standby pg2 reports no flushed WAL")?;
    let acknowledged_at = aerodb_postgres::timeline::position(&seen2.history, flushed);
    writeln!(out, "   acknowledged position: {acknowledged_at} (what synchronous pg2 flushed)")?;
    let view = recovered.authority.as_ref().ok_or("no authority after bootstrap")?.view();
    let inputs = ValidationInputs::new(Some(view))
        .with_node(seen2.node_view(node("pg2")))
        .with_node(seen3.node_view(node("pg3")))
        .with_old_primary(OldPrimary::ConfirmedStopped)
        .with_acknowledged(acknowledged_at);

    // 5. The asynchronous standby first: denied, because it is behind.
    writeln!(out, "\n== 5. request: promote pg3 (asynchronous, cut off before the writes)")?;
    let request =
        PromotionRequest::builder("pg3").reason("pg1 lost (SIGKILL)").request_id("pg-failover-1").build()?;
    let validating = recovered.steady.request(request).begin_validation(PromotionPolicy::Enabled, &inputs)?;
    let (steady, async_denied) = match validating.decide(&inputs) {
        Decision::Denied(denied) => {
            let (steady, denial) = denied.conclude();
            indent(out, &denial.explain().to_string())?;
            (steady, Some(denial.reason().invariant()))
        }
        Decision::Approved(_) => {
            return Err("pg3 was approved although it was cut off before the writes".into());
        }
    };

    // 6. The synchronous standby: approved; the record first, then pg_promote().
    writeln!(out, "\n== 6. request: promote pg2 (synchronous)")?;
    let request =
        PromotionRequest::builder("pg2").reason("pg1 lost (SIGKILL)").request_id("pg-failover-2").build()?;
    let validating = steady.request(request).begin_validation(PromotionPolicy::Enabled, &inputs)?;
    let Decision::Approved(approved) = validating.decide(&inputs) else {
        return Err("the synchronous standby pg2 was denied".into());
    };
    let (_steady, committed) = approved.begin_transition().commit(store.as_mut())?.complete();
    indent(out, &committed.explain().to_string())?;
    let record = committed.record().clone();
    let pg2_gate = WriteAuthority::replica(node("pg2"), Some(&first))?;
    committed.into_grant().rebind(ReplicationState::ReplicaActive, &pg2_gate, store.as_ref())?;
    writeln!(
        out,
        "   the record is durable; pg2's gate admits writes at epoch {}; now pg_promote()",
        pg2_gate.admit_write()?
    )?;
    let promoted: bool = standby2.query_one("SELECT pg_promote(true, 60)", &[])?.try_get(0)?;
    if !promoted {
        return Err("pg_promote() on pg2 did not finish within 60 s".into());
    }
    let mut new_primary = standby2;
    // pg_rewind reads the source's timeline from its control file: checkpoint it now.
    new_primary.batch_execute("CHECKPOINT")?;
    let hex: String = new_primary
        .query_one("SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)", &[])?
        .try_get(0)?;
    let timeline = u32::from_str_radix(&hex, 16)?;
    let promoted_state = observe(&pg2.conninfo().parse()?)?;
    show(out, "pg2", &promoted_state)?;
    writeln!(
        out,
        "   PostgreSQL timeline {timeline}, record epoch {}; histories agree: {}",
        record.epoch(),
        promoted_state.history == *record.epoch_history()
    )?;

    // 7. The old primary comes back the way a node agent would start it.
    writeln!(out, "\n== 7. pg1's node agent restarts it: the authority first")?;
    let seen = authority.read(root)?.ok_or("the authority record is gone")?;
    let restarted_gate = WriteAuthority::replica(node("pg1"), Some(&seen))?;
    writeln!(
        out,
        "   authority: epoch {}, primary {}: pg1 is not the primary",
        seen.epoch(),
        seen.primary()
    )?;
    if let Err(refused) = restarted_gate.admit_write() {
        writeln!(out, "   pg1's gate: {refused}")?;
    }
    if seen.primary() == node("pg1") {
        return Err("the authority still names pg1".into());
    }
    writeln!(out, "   so it starts as a standby of {} after pg_rewind:", seen.primary())?;
    let rewound = site.rewind(&pg1, &pg2)?;
    for line in rewound.lines().filter(|l| l.starts_with("pg_rewind:")) {
        writeln!(out, "   {line}")?;
    }
    pg1.start()?;
    let mut old = pg1.connect()?;
    let old_primary = observe(&pg1.conninfo().parse()?)?;
    show(out, "pg1", &old_primary)?;
    let old_primary_write = match old
        .execute("INSERT INTO acked VALUES (-1, 'written on the old primary')", &[])
    {
        Ok(_) => {
            writeln!(out, "   a write on pg1: ADMITTED")?;
            None
        }
        Err(error) => {
            let code = error.code().map_or("none", |c| c.code()).to_owned();
            let message = error.as_db_error().map_or_else(|| error.to_string(), |e| e.message().to_owned());
            writeln!(out, "   a write on pg1: refused: {message} (SQLSTATE {code})")?;
            Some(code)
        }
    };

    // 8. Every acknowledged row is on the new primary; the old primary follows it.
    writeln!(out, "\n== 8. verify on the new primary")?;
    let rows_on_new_primary: BTreeSet<i64> = new_primary
        .query("SELECT id FROM acked", &[])?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let lost = acknowledged.iter().filter(|id| !rows_on_new_primary.contains(id)).count();
    writeln!(out, "   {} rows on pg2; acknowledged rows lost: {lost}", rows_on_new_primary.len())?;
    new_primary.batch_execute("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (pg1)'")?;
    new_primary.batch_execute("SELECT pg_reload_conf()")?;
    wait_for("pg1 to stream synchronously from pg2", || {
        Ok(replication(&mut new_primary)?.iter().any(|(name, sync, _)| name == "pg1" && sync == "sync"))
    })?;
    let id = rows + 1;
    // remote_apply: the commit returns once pg1 has applied it, so pg1 must show it.
    new_primary.batch_execute("SET synchronous_commit = remote_apply")?;
    new_primary.execute("INSERT INTO acked VALUES ($1, 'row at epoch 2')", &[&id])?;
    let on_old: i64 = old.query_one("SELECT count(*) FROM acked WHERE id = $1", &[&id])?.try_get(0)?;
    writeln!(out, "   a write at epoch 2 on pg2, synchronous to pg1, is visible on pg1: {}", on_old == 1)?;
    writeln!(out, "\n== the authority record")?;
    indent(out, &seen.to_string())?;

    drop((old, new_primary, standby3));
    for server in [&mut pg1, &mut pg2, &mut pg3] {
        server.stop()?;
    }
    Ok(Report {
        acknowledged,
        async_denied,
        record,
        timeline,
        timeline_history: promoted_state.history,
        rows_on_new_primary,
        old_primary,
        old_primary_write,
        rejoined_follows: on_old == 1,
    })
}
