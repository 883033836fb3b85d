//! The failover of a real PostgreSQL cluster the way a deployment runs it: a node agent process
//! per server (`aerodb-pg-agent`), the controller as `aerodb-promote` processes, nothing
//! in-process. Shared by `examples/postgres_failover.rs` and `tests/postgres_failover.rs`, which
//! launch the tools as separate processes of their own executable.

use std::collections::BTreeSet;
use std::error::Error;
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::Output;

use aerodb::core::{Epoch, EpochHistory, NodeId};
use aerodb::promotion::file_store::read_record;
use aerodb::promotion::{AuthorityRecord, Invariant};
use aerodb_etcd::Connection;
use aerodb_postgres::deployment::{Deployment, Launcher, wait_for};
use aerodb_postgres::observe::ServerState;
use postgres::NoTls;

type Failure = Box<dyn Error + Send + Sync>;

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
    /// The tools' store options for it.
    fn options(&self, root: &Path) -> Vec<OsString> {
        match self {
            Authority::File => vec!["--data-dir".into(), root.join("authority").into_os_string()],
            Authority::Etcd(connection, key) => {
                vec!["--etcd".into(), connection.endpoints.join(",").into(), "--key".into(), key.into()]
            }
        }
    }

    /// The durable record, as anyone reads it.
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

fn indent(out: &mut dyn Write, text: &str) -> Result<(), Failure> {
    for line in text.lines() {
        writeln!(out, "   {line}")?;
    }
    Ok(())
}

/// Runs `aerodb-promote ARGS`, printing what it printed; fails unless it exits `expected`.
fn tool(
    deployment: &Deployment,
    out: &mut dyn Write,
    args: &[&str],
    expected: i32,
) -> Result<Output, Failure> {
    writeln!(out, "   $ aerodb-promote {}", args.join(" "))?;
    let output = deployment.tool(args)?;
    indent(out, &String::from_utf8_lossy(&output.stderr))?;
    if output.status.code() != Some(expected) {
        indent(out, &String::from_utf8_lossy(&output.stdout))?;
        return Err(
            format!("aerodb-promote {} exited {} (expected {expected})", args[0], output.status).into()
        );
    }
    Ok(output)
}

/// Runs the whole failover with servers under `root` (which must exist and be empty) and the
/// authority in `authority`, writing `rows` acknowledged rows first; prints each step to `out`.
/// `launcher` starts `aerodb-promote` and `aerodb-pg-agent` as processes.
pub fn run(
    root: &Path,
    authority: &Authority,
    rows: i64,
    launcher: Launcher,
    out: &mut dyn Write,
) -> Result<Report, Failure> {
    writeln!(out, "PostgreSQL failover driven by AeroDB promotion: node agents and the tool as processes")?;
    writeln!(out, "authority in {authority}; servers under {}", root.display())?;

    // 1. The cluster, its authority and an agent per server.
    writeln!(
        out,
        "\n== 1. initdb pg1; pg2 and pg3 by pg_basebackup; authority bootstrapped; an agent per server"
    )?;
    // Every agent applies FIRST 1 (pg1, pg2, pg3) when its node is the primary, itself left out,
    // and records it in the primary report before PostgreSQL applies it.
    let rule = vec!["--synchronous".into(), "FIRST 1 (pg1, pg2, pg3)".into()];
    let mut cluster =
        Deployment::start_with(root, &["pg1", "pg2", "pg3"], authority.options(root), launcher, 60, rule)?;
    wait_for("pg1 to lead with pg2 synchronous and pg3 potential", || {
        cluster.streaming("pg1") == [("pg2".into(), "sync".into()), ("pg3".into(), "potential".into())]
    })?;
    writeln!(out, "   pg1's agent recorded FIRST 1 (pg2, pg3) in the primary report, then applied it")?;
    for (name, role) in
        [("pg1", "primary"), ("pg2", "synchronous standby"), ("pg3", "potential synchronous standby")]
    {
        writeln!(
            out,
            "   {name} on 127.0.0.1:{}: {role}, started by its agent",
            cluster.port(name).unwrap_or(0)
        )?;
    }

    // 2. Make pg3 certainly behind, then write with synchronous commit.
    writeln!(
        out,
        "\n== 2. cut pg3's replication (its agent stopped first), then write {rows} rows with synchronous commit"
    )?;
    cluster.kill_agent("pg3");
    let mut standby3 = cluster.config("pg3").connect(NoTls)?;
    standby3.batch_execute("ALTER SYSTEM SET primary_conninfo = ''")?;
    standby3.batch_execute("SELECT pg_reload_conf()")?;
    wait_for("pg3 to stop streaming", || {
        cluster.state("pg3").is_some_and(|s| !s.receiving) && cluster.streaming("pg1").len() == 1
    })?;
    let mut primary = cluster.config("pg1").connect(NoTls)?;
    let mut acknowledged = Vec::new();
    for id in 1..=rows {
        primary.execute("INSERT INTO acked VALUES ($1)", &[&id])?;
        acknowledged.push(id);
    }
    writeln!(
        out,
        "   acknowledged: {} commits (synchronous_commit = on: each flushed on pg2 first)",
        acknowledged.len()
    )?;
    drop(primary);

    // 3. The primary's host crashes: its agent and its server, at once.
    writeln!(out, "\n== 3. SIGKILL pg1's agent, then pg1 (postmaster and every backend: no clean shutdown)")?;
    cluster.kill_agent("pg1");
    cluster.kill_server("pg1")?;
    writeln!(out, "   pg1 confirmed stopped: every process of it checked gone in /proc")?;

    // 4. The controller observes: every node over SQL, the standbys frozen first.
    writeln!(out, "\n== 4. observe every node (standbys frozen so their positions hold)")?;
    let cluster_file = cluster.cluster_file();
    let cluster_file = cluster_file.to_str().ok_or("the cluster file's path is not UTF-8")?;
    let observed = tool(&cluster, out, &["observe", "--cluster", cluster_file], 0)?;
    let observation = root.join("observed.json");
    std::fs::write(&observation, &observed.stdout)?;
    let observation = observation.to_str().ok_or("the observation's path is not UTF-8")?;
    writeln!(
        out,
        "   the observation is {observation}; promote derives the acknowledged bound from the recorded FIRST 1 (pg2, pg3): both observed, the higher flush; nobody can answer for pg1, so the operator states its host is lost (--force --reason)"
    )?;

    // 5. The standby cut off first: denied, because it is behind.
    writeln!(out, "\n== 5. promote pg3 (cut off before the writes)")?;
    let denied = tool(
        &cluster,
        out,
        &[
            "promote",
            "pg3",
            "--observed",
            observation,
            "--force",
            "--reason",
            "pg1's host lost (SIGKILL)",
            "--json",
        ],
        4,
    )?;
    let explanation: serde_json::Value = serde_json::from_slice(&denied.stdout)?;
    let async_denied: Option<Invariant> = serde_json::from_value(explanation["invariant_violated"].clone())?;
    writeln!(out, "   denied: {}", explanation["reason"].as_str().unwrap_or("?"))?;

    // 6. The synchronous standby: approved and committed; its agent promotes it.
    writeln!(out, "\n== 6. promote pg2 (synchronous): the record first; pg2's agent promotes it")?;
    let promoted = tool(
        &cluster,
        out,
        &["promote", "pg2", "--observed", observation, "--force", "--reason", "pg1's host lost (SIGKILL)"],
        0,
    )?;
    indent(out, &String::from_utf8_lossy(&promoted.stdout))?;
    let record = authority.read(root)?.ok_or("no authority record after the promotion")?;
    wait_for("pg2 to lead at the record's epoch", || {
        cluster.state("pg2").is_some_and(|s| !s.in_recovery && u64::from(s.timeline) == record.epoch().get())
    })?;
    let promoted_state = cluster.state("pg2").ok_or("pg2 cannot be read")?;
    for line in cluster.printed("pg2").iter().filter(|l| l.starts_with("step:")) {
        writeln!(out, "   pg2's agent: {line}")?;
    }
    writeln!(
        out,
        "   PostgreSQL timeline {}, record epoch {}; histories agree: {}",
        promoted_state.timeline,
        record.epoch(),
        promoted_state.history == *record.epoch_history()
    )?;

    // 7. The old primary comes back with its agent; pg3's agent comes back too.
    writeln!(
        out,
        "\n== 7. pg1 and pg3 come back with their agents: pg1 is never writable, rewinds and follows pg2"
    )?;
    cluster.start_agent("pg1", None)?;
    cluster.start_agent("pg3", None)?;
    wait_for("pg1 and pg3 to stream from pg2", || {
        let names: Vec<String> = cluster.streaming("pg2").into_iter().map(|(name, _)| name).collect();
        names == ["pg1", "pg3"]
    })?;
    for line in cluster.printed("pg1").iter().filter(|l| l.starts_with("step:") || l.contains("pg_rewind:")) {
        writeln!(out, "   pg1's agent: {line}")?;
    }
    let old_primary = cluster.state("pg1").ok_or("pg1 cannot be read")?;
    let mut old = cluster.config("pg1").connect(NoTls)?;
    let old_primary_write = match old.execute("INSERT INTO acked VALUES (-1)", &[]) {
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
    let mut new_primary = cluster.config("pg2").connect(NoTls)?;
    let rows_on_new_primary: BTreeSet<i64> = new_primary
        .query("SELECT id FROM acked", &[])?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let lost = acknowledged.iter().filter(|id| !rows_on_new_primary.contains(id)).count();
    writeln!(out, "   {} rows on pg2; acknowledged rows lost: {lost}", rows_on_new_primary.len())?;
    // pg2's agent applies FIRST 1 (pg1, pg3): pg1, streaming again, is its synchronous standby.
    wait_for("pg1 to stream synchronously from pg2", || {
        cluster.streaming("pg2").iter().any(|(name, sync)| name == "pg1" && sync == "sync")
    })?;
    let id = rows + 1;
    // remote_apply: the commit returns once pg1 has applied it, so pg1 must show it.
    new_primary.batch_execute("SET synchronous_commit = remote_apply")?;
    new_primary.execute("INSERT INTO acked VALUES ($1)", &[&id])?;
    let on_old: i64 = old.query_one("SELECT count(*) FROM acked WHERE id = $1", &[&id])?.try_get(0)?;
    writeln!(out, "   a write at epoch 2 on pg2, synchronous to pg1, is visible on pg1: {}", on_old == 1)?;
    writeln!(out, "\n== the authority record")?;
    indent(out, &record.to_string())?;

    drop((old, new_primary, standby3));
    cluster.stop()?;
    Ok(Report {
        acknowledged,
        async_denied,
        record,
        timeline: promoted_state.timeline,
        timeline_history: promoted_state.history,
        rows_on_new_primary,
        old_primary,
        old_primary_write,
        rejoined_follows: on_old == 1,
    })
}
