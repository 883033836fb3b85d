//! Failovers of a real PostgreSQL cluster run the way a deployment runs them: one
//! `aerodb-pg-agent` process per server, the controller as `aerodb-promote` processes (`observe`,
//! then `promote`), nothing in-process. Ignored by `cargo test --workspace` (it needs Debian's
//! `postgresql`); `.ci/run` runs it:
//!
//! ```sh
//! cargo test -p aerodb-cli --test agents -- --ignored
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aerodb_postgres::control::ServerControl;
use aerodb_postgres::local::{Programs, Site};
use aerodb_postgres::observe::observe;
use aerodb_promotion::read_record;
use postgres::NoTls;

/// How long the cluster may take to reach a state the test waits for.
const LIMIT: Duration = Duration::from_secs(90);
const NODES: [&str; 3] = ["pg1", "pg2", "pg3"];

/// A node agent process and what it printed.
struct Agent {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Agent {
    fn printed(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

/// Three servers under one temporary directory, an authority in a data directory, a cluster
/// file, and an agent per server; everything stopped on drop.
struct Rig {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    ports: BTreeMap<&'static str, u16>,
    agents: BTreeMap<&'static str, Agent>,
    freeze_hold: u32,
}

impl Rig {
    fn new() -> Rig {
        Rig::with_freeze_hold(600)
    }

    /// A rig whose agents lift a freeze after `freeze_hold` seconds without a promotion.
    fn with_freeze_hold(freeze_hold: u32) -> Rig {
        let dir = tempfile::Builder::new().prefix("aerodb-agents-").tempdir().unwrap();
        let root = dir.path().join("site");
        std::fs::create_dir(&root).unwrap();
        let programs = Programs::locate().unwrap_or_else(|e| panic!("{e}"));
        let bindir = programs.bindir().to_owned();
        let site = Site::new(programs, &root).unwrap();
        let mut pg1 = site.initdb("pg1").unwrap();
        pg1.start().unwrap();
        pg1.connect().unwrap().batch_execute("CREATE TABLE acked (id bigint PRIMARY KEY)").unwrap();
        let pg2 = site.base_backup(&pg1, "pg2").unwrap();
        let pg3 = site.base_backup(&pg1, "pg3").unwrap();
        pg1.configure("synchronous_standby_names = 'FIRST 1 (pg2)'\n").unwrap();
        pg1.stop().unwrap();
        let ports = BTreeMap::from([("pg1", pg1.port()), ("pg2", pg2.port()), ("pg3", pg3.port())]);
        let cluster: String =
            ports.iter().map(|(node, port)| format!("{node} {}\n", conninfo(*port))).collect();
        std::fs::write(dir.path().join("cluster"), cluster).unwrap();
        let mut rig = Rig { dir, bindir, ports, agents: BTreeMap::new(), freeze_hold };
        let out = rig.tool(&["bootstrap", "pg1"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        for node in NODES {
            rig.start_agent(node, None);
        }
        rig
    }

    fn data(&self, node: &str) -> PathBuf {
        self.dir.path().join("site").join(node)
    }

    fn authority(&self) -> PathBuf {
        self.dir.path().join("authority")
    }

    fn config(&self, node: &str) -> postgres::Config {
        conninfo(self.ports[node]).parse().unwrap()
    }

    /// `aerodb-promote --data-dir AUTHORITY ARGS`.
    fn tool(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_aerodb-promote"))
            .arg("--data-dir")
            .arg(self.authority())
            .args(args)
            .env("RUST_LOG", "off")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn start_agent(&mut self, node: &'static str, pause_after: Option<u32>) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_aerodb-pg-agent"));
        command.args(["--node", node, "--interval-ms", "50", "--freeze-hold", &self.freeze_hold.to_string()]);
        command.arg("--pgdata").arg(self.data(node)).arg("--bindir").arg(&self.bindir);
        command.arg("--cluster").arg(self.dir.path().join("cluster")).arg("--data-dir").arg(self.authority());
        if let Some(n) = pause_after {
            command.args(["--pause-after", &n.to_string()]);
        }
        let mut child =
            command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        if let Some(mut old) = self.agents.insert(node, Agent { child, lines }) {
            let _ = old.child.kill();
            let _ = old.child.wait();
        }
    }

    /// SIGKILL of `node`'s agent.
    fn kill_agent(&mut self, node: &str) -> Vec<String> {
        let mut agent = self.agents.remove(node).unwrap();
        agent.child.kill().unwrap();
        agent.child.wait().unwrap();
        agent.printed()
    }

    /// SIGKILL of `node`'s server: its postmaster and every child, as a host crash would.
    fn kill_server(&self, node: &str) {
        let control = ServerControl::new(&self.bindir, &self.data(node), Path::new("/dev/null")).unwrap();
        if let Some(postmaster) = control.postmaster() {
            let mut victims = children(postmaster.pid);
            victims.push(postmaster.pid);
            for pid in &victims {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).stderr(Stdio::null()).status();
            }
            wait_for("the killed server's processes to be gone", || victims.iter().all(|pid| !alive(*pid)));
        }
    }

    /// The server of `node` as it reports itself, if it can be read.
    fn state(&self, node: &str) -> Option<aerodb_postgres::observe::ServerState> {
        observe(&self.config(node)).ok()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (node, agent) in &self.agents {
                eprintln!("--- {node}'s agent printed:\n{}", agent.printed().join("\n"));
            }
        }
        for agent in self.agents.values_mut() {
            let _ = agent.child.kill();
            let _ = agent.child.wait();
        }
        for node in NODES {
            if let Ok(control) = ServerControl::new(&self.bindir, &self.data(node), Path::new("/dev/null")) {
                let _ = control.stop(true);
            }
            self.kill_server(node);
        }
    }
}

fn conninfo(port: u16) -> String {
    format!("host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=5")
}

/// Processes whose parent is `parent` (from /proc).
fn children(parent: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let (_, fields) = stat.rsplit_once(')')?;
            let ppid: i32 = fields.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit_once(')').and_then(|(_, f)| f.split_whitespace().next().map(str::to_owned));
        !matches!(state.as_deref(), Some("Z" | "X"))
    })
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !done() {
        assert!(Instant::now() < deadline, "gave up after {LIMIT:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Standbys streaming from `primary`, with their sync state.
fn streaming(config: &postgres::Config) -> Vec<(String, String)> {
    let Ok(mut client) = config.connect(NoTls) else { return Vec::new() };
    let Ok(rows) = client.query(
        "SELECT application_name, sync_state FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1",
        &[],
    ) else {
        return Vec::new();
    };
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// A client committing rows with synchronous commit until its server goes away: the ids whose
/// commit it saw acknowledged. `count` follows them as they come.
fn writer(
    config: postgres::Config,
    first: i64,
    stop: Arc<AtomicBool>,
    count: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<Result<Vec<i64>, String>> {
    std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        let mut client = config.connect(NoTls).map_err(|e| format!("the writer could not connect: {e}"))?;
        let mut id = first;
        while !stop.load(Ordering::Relaxed) && id < first + 999_999 {
            if let Err(error) = client.execute("INSERT INTO acked VALUES ($1)", &[&id]) {
                if acknowledged.is_empty() {
                    return Err(format!("the first write failed: {error:?}"));
                }
                break;
            }
            acknowledged.push(id);
            count.fetch_add(1, Ordering::Relaxed);
            id += 1;
        }
        Ok(acknowledged)
    })
}

/// Where the agent of the candidate is killed in a round: not at all, or after its Nth action
/// following the record's commit, alone or with its server.
#[derive(Debug, Clone, Copy)]
enum Kill {
    None,
    Agent(u32),
    AgentAndServer(u32),
}

/// Rounds of failover under synchronous write load: each kills the primary and its agent
/// mid-commit, observes, is denied the asynchronous standby when it is behind, promotes the
/// synchronous one (its agent killed at a chosen step after the commit in most rounds), and
/// brings the old primary back with its agent; every acknowledged row survives and timeline =
/// epoch every time.
#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn failovers_under_write_load_with_agents_as_processes() {
    let rounds: usize = std::env::var("AERODB_AGENT_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(20);
    let kills = [
        Kill::None,
        Kill::Agent(1),
        Kill::Agent(2),
        Kill::Agent(3),
        Kill::AgentAndServer(1),
        Kill::AgentAndServer(2),
        Kill::AgentAndServer(3),
    ];
    let mut rig = Rig::new();
    let (mut primary, mut sync, mut other) = ("pg1", "pg2", "pg3");
    wait_for("pg1 to lead with pg2 synchronous and pg3 asynchronous", || {
        streaming(&rig.config("pg1")) == [("pg2".into(), "sync".into()), ("pg3".into(), "async".into())]
    });
    let mut all_acknowledged: Vec<i64> = Vec::new();
    let mut async_denied = 0;
    for round in 0..rounds {
        let kill = kills[round % kills.len()];
        let epoch = round as u64 + 1;
        // 1. Writes with synchronous commit; the primary's host dies mid-commit.
        // Every other round the asynchronous standby is cut off first (its agent stopped, its
        // WAL receiver too), so it is certainly behind and must be denied.
        let cut_off = round % 2 == 1;
        if cut_off {
            rig.kill_agent(other);
            let mut standby = rig.config(other).connect(NoTls).unwrap();
            standby.batch_execute("ALTER SYSTEM SET primary_conninfo = ''").unwrap();
            standby.batch_execute("SELECT pg_reload_conf()").unwrap();
            wait_for(&format!("{other}'s WAL receiver to stop"), || {
                rig.state(other).is_some_and(|s| !s.receiving)
            });
        }
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicUsize::new(0));
        // Each round its own ids: a commit in flight when the primary died may be durable without
        // having been acknowledged.
        let first = round as i64 * 1_000_000 + 1;
        let load = writer(rig.config(primary), first, Arc::clone(&stop), Arc::clone(&count));
        wait_for("the writer's first 50 acknowledged commits", || {
            count.load(Ordering::Relaxed) >= 50 || load.is_finished()
        });
        rig.kill_agent(primary);
        rig.kill_server(primary);
        stop.store(true, Ordering::Relaxed);
        let acknowledged = load.join().unwrap().unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(!acknowledged.is_empty(), "round {round}: no write was acknowledged");
        all_acknowledged.extend(&acknowledged);
        // The candidate's agent, to be killed after its Nth action once the record is durable.
        match kill {
            Kill::None => {}
            Kill::Agent(n) | Kill::AgentAndServer(n) => rig.start_agent(sync, Some(n)),
        }
        // 2. The controller: observe (standbys frozen), then promote.
        let out = rig.tool(&[
            "observe",
            "--cluster",
            rig.dir.path().join("cluster").to_str().unwrap(),
            "--acknowledged-by",
            sync,
            "--old-primary-stopped",
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round} observe: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let observation = rig.dir.path().join(format!("observed-{round}.json"));
        std::fs::write(&observation, &out.stdout).unwrap();
        let observation = observation.to_str().unwrap();
        let behind = {
            let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let position = |v: &serde_json::Value| (v["epoch"].as_u64().unwrap(), v["lsn"].as_u64().unwrap());
            let other_at = parsed["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n["id"] == other)
                .map(|n| position(&n["position"]));
            other_at.is_some_and(|at| at < position(&parsed["acknowledged"]))
        };
        let denied =
            rig.tool(&["promote", other, "--observed", observation, "--reason", "test", "--dry-run"]);
        assert!(behind || !cut_off, "round {round}: {other} was cut off before the writes but is not behind");
        if behind {
            assert_eq!(denied.status.code(), Some(4), "round {round}: {other} behind but not denied");
            async_denied += 1;
        }
        if cut_off {
            rig.start_agent(other, None);
        }
        let promoted = rig.tool(&["promote", sync, "--observed", observation, "--reason", "primary lost"]);
        assert_eq!(
            promoted.status.code(),
            Some(0),
            "round {round}: the synchronous standby {sync} was not promoted:\n{}{}",
            String::from_utf8_lossy(&promoted.stdout),
            String::from_utf8_lossy(&promoted.stderr)
        );
        let record = read_record(rig.authority()).unwrap().unwrap();
        assert_eq!((record.epoch().get(), record.primary().as_str()), (epoch + 1, sync));
        // 3. The candidate's agent (and server) killed after its Nth action, then restarted.
        if let Kill::Agent(n) | Kill::AgentAndServer(n) = kill {
            let agent = &rig.agents[sync];
            wait_for(&format!("{sync}'s agent to pause after {n} actions"), || {
                agent.printed().iter().any(|l| l.starts_with("paused after"))
            });
            rig.kill_agent(sync);
            if matches!(kill, Kill::AgentAndServer(_)) {
                rig.kill_server(sync);
            }
            rig.start_agent(sync, None);
        }
        // 4. The new primary: timeline = epoch, history file = record; every acknowledged row.
        wait_for(&format!("{sync} to lead at timeline {}", epoch + 1), || {
            rig.state(sync).is_some_and(|s| !s.in_recovery && u64::from(s.timeline) == epoch + 1)
        });
        let state = rig.state(sync).unwrap();
        assert_eq!(
            state.history,
            *record.epoch_history(),
            "round {round}: history file differs from the record"
        );
        let mut client = rig.config(sync).connect(NoTls).unwrap();
        let rows: BTreeSet<i64> =
            client.query("SELECT id FROM acked", &[]).unwrap().iter().map(|r| r.get(0)).collect();
        let lost: Vec<i64> = all_acknowledged.iter().copied().filter(|id| !rows.contains(id)).collect();
        assert!(lost.is_empty(), "round {round}: acknowledged rows lost: {lost:?}");
        // 5. The old primary comes back with its agent: never writable, it rewinds and follows.
        // Its agent too is killed after its Nth action (pg_rewind, start, stream) in most rounds.
        let old = primary;
        let old_kill = kills[(round + 3) % kills.len()];
        match old_kill {
            Kill::None => rig.start_agent(old, None),
            Kill::Agent(n) | Kill::AgentAndServer(n) => {
                rig.start_agent(old, Some(n));
                let agent = &rig.agents[old];
                wait_for(&format!("{old}'s agent to pause after {n} actions"), || {
                    agent.printed().iter().any(|l| l.starts_with("paused after"))
                });
                let printed = rig.kill_agent(old);
                assert!(
                    !printed.iter().any(|l| l.contains("writable")),
                    "round {round}: {old} opened for writes"
                );
                if matches!(old_kill, Kill::AgentAndServer(_)) {
                    rig.kill_server(old);
                }
                rig.start_agent(old, None);
            }
        }
        wait_for(&format!("{old} and {other} to stream from {sync}"), || {
            let names: Vec<String> = streaming(&rig.config(sync)).into_iter().map(|(n, _)| n).collect();
            names.contains(&old.to_owned()) && names.contains(&other.to_owned())
        });
        let state = rig.state(old).unwrap();
        assert!(state.in_recovery, "round {round}: the old primary came back writable");
        assert!(
            !rig.agents[old].printed().iter().any(|l| l.contains("writable")),
            "round {round}: the old primary's agent opened it for writes"
        );
        // The next round: the old primary becomes the synchronous standby.
        client
            .batch_execute(&format!("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 ({old})'"))
            .unwrap();
        client.batch_execute("SELECT pg_reload_conf()").unwrap();
        wait_for(&format!("{old} synchronous"), || {
            streaming(&rig.config(sync)).iter().any(|(n, s)| n == old && s == "sync")
        });
        // A write at the new epoch reaches the old primary.
        let marker = -(round as i64) - 1;
        client.batch_execute("SET synchronous_commit = remote_apply").unwrap();
        client.execute("INSERT INTO acked VALUES ($1)", &[&marker]).unwrap();
        let mut on_old = rig.config(old).connect(NoTls).unwrap();
        let seen: i64 =
            on_old.query_one("SELECT count(*) FROM acked WHERE id = $1", &[&marker]).unwrap().get(0);
        assert_eq!(seen, 1, "round {round}: a write at epoch {} did not reach {old}", epoch + 1);
        println!(
            "round {round}: {primary} -> {sync} at epoch {}, candidate {kill:?}, old primary {old_kill:?}, {} rows acknowledged",
            epoch + 1,
            acknowledged.len()
        );
        (primary, sync, other) = (sync, old, other);
    }
    println!(
        "{rounds} failovers, {} acknowledged rows, 0 lost; {async_denied} times the asynchronous standby was behind and denied",
        all_acknowledged.len()
    );
}

/// An observation freezes the standbys; with no promotion after it, their agents lift the freeze
/// after the hold and they stream again. SIGTERM and SIGINT end an agent at once, exit 0, and
/// leave its server as it was.
#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn a_freeze_without_a_promotion_is_lifted_and_signals_leave_the_server_alone() {
    let mut rig = Rig::with_freeze_hold(3);
    wait_for("pg2 and pg3 to stream from pg1", || streaming(&rig.config("pg1")).len() == 2);
    let out = rig.tool(&["observe", "--cluster", rig.dir.path().join("cluster").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let observed = Instant::now();
    // Frozen: no WAL receiver on either standby right after the observation.
    for node in ["pg2", "pg3"] {
        assert!(!rig.state(node).unwrap().receiving, "{node} still receives after observe");
    }
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.contains("pg2: standby, timeline 1, WAL end 1/"), "{stderr}");
    assert!(stderr.contains(" (0/"), "positions in PostgreSQL's notation too: {stderr}");
    wait_for("pg2 and pg3 to stream again", || streaming(&rig.config("pg1")).len() == 2);
    assert!(observed.elapsed() >= Duration::from_secs(3), "the freeze was lifted before its hold");

    for (node, signal) in [("pg2", "-TERM"), ("pg3", "-INT")] {
        let mut agent = rig.agents.remove(node).unwrap();
        let sent = Instant::now();
        Command::new("kill").args([signal, &agent.child.id().to_string()]).status().unwrap();
        let status = agent.child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{node}'s agent after {signal}");
        assert!(sent.elapsed() < Duration::from_secs(5), "{node}'s agent took {:?} to stop", sent.elapsed());
        let state = rig.state(node).expect("the server keeps running");
        assert!(state.in_recovery, "{node} changed role");
    }
    assert_eq!(streaming(&rig.config("pg1")).len(), 2, "the standbys stopped streaming");
}
