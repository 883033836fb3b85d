//! Failovers of a real PostgreSQL cluster run the way a deployment runs them: one
//! `aerodb-pg-agent` process per server, the controller as `aerodb-promote` processes (`observe`,
//! then `promote`), nothing in-process. Ignored by `cargo test --workspace` (it needs Debian's
//! `postgresql`); `.ci/run` runs it:
//!
//! ```sh
//! cargo test -p aerodb-cli --test agents -- --ignored
//! ```

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aerodb_postgres::deployment::{self, Deployment, Launcher};
use aerodb_promotion::file_store::read_record;
use postgres::NoTls;

const NODES: [&str; 3] = ["pg1", "pg2", "pg3"];

/// A deployment of pg1 (primary), pg2 (synchronous), pg3 (asynchronous) under a temporary
/// directory, the authority in a data directory, agents and tool as the built binaries.
fn deploy(freeze_hold: u32) -> (tempfile::TempDir, Rig) {
    deploy_with(freeze_hold, &[])
}

/// [`deploy`], every agent given `agent_args` too.
fn deploy_with(freeze_hold: u32, agent_args: &[&str]) -> (tempfile::TempDir, Rig) {
    let dir = tempfile::Builder::new().prefix("aerodb-agents-").tempdir().unwrap();
    let store = vec!["--data-dir".into(), dir.path().join("authority").into_os_string()];
    let launcher = Launcher::new(
        || {
            let mut tool = Command::new(env!("CARGO_BIN_EXE_aerodb-promote"));
            tool.env("RUST_LOG", "off");
            tool
        },
        || Command::new(env!("CARGO_BIN_EXE_aerodb-pg-agent")),
    );
    let agent_args = agent_args.iter().map(Into::into).collect();
    let deployment = Deployment::start_with(dir.path(), &NODES, store, launcher, freeze_hold, agent_args)
        .unwrap_or_else(|e| panic!("{e}"));
    (dir, Rig(deployment))
}

fn wait_for(what: &str, done: impl FnMut() -> bool) {
    deployment::wait_for(what, done).unwrap_or_else(|e| panic!("{e}"));
}

/// The deployment, printing what every agent printed when the test fails.
struct Rig(Deployment);

impl std::ops::Deref for Rig {
    type Target = Deployment;
    fn deref(&self) -> &Deployment {
        &self.0
    }
}

impl std::ops::DerefMut for Rig {
    fn deref_mut(&mut self) -> &mut Deployment {
        &mut self.0
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for node in NODES {
                eprintln!("--- {node}'s agent printed:\n{}", self.0.printed(node).join("\n"));
            }
        }
    }
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
    let (dir, mut rig) = deploy(600);
    let (mut primary, mut sync, mut other) = ("pg1", "pg2", "pg3");
    wait_for("pg1 to lead with pg2 synchronous and pg3 asynchronous", || {
        rig.streaming("pg1") == [("pg2".into(), "sync".into()), ("pg3".into(), "async".into())]
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
            let mut last = String::new();
            let stopped = deployment::wait_for(&format!("{other}'s WAL receiver to stop"), || {
                match aerodb_postgres::observe::observe(&rig.config(other)) {
                    Ok(state) => {
                        last = format!("{state:?}");
                        !state.receiving
                    }
                    Err(error) => {
                        last = error.to_string();
                        false
                    }
                }
            });
            if let Err(error) = stopped {
                panic!("round {round}: {error}; last seen: {last}");
            }
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
        rig.kill_server(primary).unwrap();
        stop.store(true, Ordering::Relaxed);
        let acknowledged = load.join().unwrap().unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(!acknowledged.is_empty(), "round {round}: no write was acknowledged");
        all_acknowledged.extend(&acknowledged);
        // The candidate's agent, to be killed after its Nth action once the record is durable.
        match kill {
            Kill::None => {}
            Kill::Agent(n) | Kill::AgentAndServer(n) => rig.start_agent(sync, Some(n)).unwrap(),
        }
        // 2. The controller: observe (standbys frozen), then promote.
        let out = rig
            .tool(&["observe", "--cluster", rig.cluster_file().to_str().unwrap(), "--acknowledged-by", sync])
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round} observe: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let observation = dir.path().join(format!("observed-{round}.json"));
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
        let denied = rig
            .tool(&[
                "promote",
                other,
                "--observed",
                observation,
                "--force",
                "--reason",
                "host lost",
                "--dry-run",
            ])
            .unwrap();
        assert!(behind || !cut_off, "round {round}: {other} was cut off before the writes but is not behind");
        if behind {
            assert_eq!(denied.status.code(), Some(4), "round {round}: {other} behind but not denied");
            async_denied += 1;
        }
        if cut_off {
            rig.start_agent(other, None).unwrap();
        }
        let promoted = rig
            .tool(&["promote", sync, "--observed", observation, "--force", "--reason", "primary lost"])
            .unwrap();
        assert_eq!(
            promoted.status.code(),
            Some(0),
            "round {round}: the synchronous standby {sync} was not promoted:\n{}{}",
            String::from_utf8_lossy(&promoted.stdout),
            String::from_utf8_lossy(&promoted.stderr)
        );
        let record = read_record(dir.path().join("authority")).unwrap().unwrap();
        assert_eq!((record.epoch().get(), record.primary().as_str()), (epoch + 1, sync));
        // 3. The candidate's agent (and server) killed after its Nth action, then restarted.
        if let Kill::Agent(n) | Kill::AgentAndServer(n) = kill {
            wait_for(&format!("{sync}'s agent to pause after {n} actions"), || {
                rig.printed(sync).iter().any(|l| l.starts_with("paused after"))
            });
            rig.kill_agent(sync);
            if matches!(kill, Kill::AgentAndServer(_)) {
                rig.kill_server(sync).unwrap();
            }
            rig.start_agent(sync, None).unwrap();
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
            Kill::None => rig.start_agent(old, None).unwrap(),
            Kill::Agent(n) | Kill::AgentAndServer(n) => {
                rig.start_agent(old, Some(n)).unwrap();
                wait_for(&format!("{old}'s agent to pause after {n} actions"), || {
                    rig.printed(old).iter().any(|l| l.starts_with("paused after"))
                });
                let printed = rig.kill_agent(old);
                assert!(
                    !printed.iter().any(|l| l.contains("writable")),
                    "round {round}: {old} opened for writes"
                );
                if matches!(old_kill, Kill::AgentAndServer(_)) {
                    rig.kill_server(old).unwrap();
                }
                rig.start_agent(old, None).unwrap();
            }
        }
        wait_for(&format!("{old} and {other} to stream from {sync}"), || {
            let names: Vec<String> = rig.streaming(sync).into_iter().map(|(n, _)| n).collect();
            names.contains(&old.to_owned()) && names.contains(&other.to_owned())
        });
        let state = rig.state(old).unwrap();
        assert!(state.in_recovery, "round {round}: the old primary came back writable");
        assert!(
            !rig.printed(old).iter().any(|l| l.contains("writable")),
            "round {round}: the old primary's agent opened it for writes"
        );
        // The next round: the old primary becomes the synchronous standby.
        client
            .batch_execute(&format!("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 ({old})'"))
            .unwrap();
        client.batch_execute("SELECT pg_reload_conf()").unwrap();
        wait_for(&format!("{old} synchronous"), || {
            rig.streaming(sync).iter().any(|(n, s)| n == old && s == "sync")
        });
        if round == 0 {
            // A timeline the server is on without its history file is unknown input: observe
            // makes no observation at all rather than leave the node out.
            let history = rig.data_dir(old).join(format!("pg_wal/{:08X}.history", epoch + 1));
            let aside = history.with_extension("aside");
            std::fs::rename(&history, &aside).unwrap();
            let refused = rig
                .tool(&["observe", "--cluster", rig.cluster_file().to_str().unwrap(), "--no-freeze"])
                .unwrap();
            std::fs::rename(&aside, &history).unwrap();
            let stderr = String::from_utf8_lossy(&refused.stderr);
            assert_eq!(refused.status.code(), Some(1), "observe without {old}'s history file: {stderr}");
            assert!(stderr.contains(&format!("{old} answered but could not be read")), "{stderr}");
            assert!(refused.stdout.is_empty(), "an observation was printed");
        }
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

/// While the recorded primary runs, an observation freezes nothing (a promotion would be denied,
/// and a frozen synchronous standby would stall every commit). With the primary gone it freezes
/// the standbys; with no promotion after it, their agents lift the freeze after the hold, and
/// they stream again once the primary is back. SIGTERM and SIGINT end an agent at once, exit
/// 0, and leave its server as it was.
#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn a_freeze_without_a_promotion_is_lifted_and_signals_leave_the_server_alone() {
    let (_dir, mut rig) = deploy(3);
    wait_for("pg2 and pg3 to stream from pg1", || rig.streaming("pg1").len() == 2);
    let cluster = rig.cluster_file();
    let cluster = cluster.to_str().unwrap();
    let out = rig.tool(&["observe", "--cluster", cluster]).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg1 runs as a primary: standbys not frozen"));
    assert_eq!(rig.streaming("pg1").len(), 2, "a standby was frozen while its primary ran");

    rig.kill_agent("pg1");
    rig.kill_server("pg1").unwrap();
    let out = rig.tool(&["observe", "--cluster", cluster]).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let observed = Instant::now();
    let frozen = |rig: &Rig, node: &str| -> (String, Option<String>) {
        let mut client = rig.config(node).connect(NoTls).unwrap();
        let row = client
            .query_one(
                "SELECT current_setting('primary_conninfo'), current_setting('aerodb.frozen_at', true)",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    for node in ["pg2", "pg3"] {
        let state = rig.state(node).unwrap();
        assert!(!state.receiving, "{node} still receives after observe");
        assert_eq!(frozen(&rig, node), (String::new(), Some("1".to_owned())), "{node} not frozen");
    }
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.contains("pg2: standby, timeline 1, WAL end 1/"), "{stderr}");
    assert!(stderr.contains(" (0/"), "positions in PostgreSQL's notation too: {stderr}");
    wait_for("the freeze to be lifted", || {
        ["pg2", "pg3"].iter().all(|node| frozen(&rig, node).0.contains(&format!("application_name={node}")))
    });
    assert!(observed.elapsed() >= Duration::from_secs(3), "the freeze was lifted before its hold");
    rig.start_agent("pg1", None).unwrap();
    wait_for("pg2 and pg3 to stream from pg1 again", || rig.streaming("pg1").len() == 2);

    for (node, signal) in [("pg2", "-TERM"), ("pg3", "-INT")] {
        let pid = rig.agent_pid(node).unwrap();
        let sent = Instant::now();
        Command::new("kill").args([signal, &pid.to_string()]).status().unwrap();
        let status = rig.wait_agent(node).unwrap();
        assert_eq!(status.code(), Some(0), "{node}'s agent after {signal}");
        assert!(sent.elapsed() < Duration::from_secs(5), "{node}'s agent took {:?} to stop", sent.elapsed());
        let state = rig.state(node).expect("the server keeps running");
        assert!(state.in_recovery, "{node} changed role");
    }
    assert_eq!(rig.streaming("pg1").len(), 2, "the standbys stopped streaming");
}

/// PostgreSQL would pick another timeline than the record's epoch (a history file of timeline 2
/// appears before the promotion, as a restored archive would leave it): the agent does not
/// promote, and says why; once the stray file is gone it promotes onto timeline 2 = epoch 2.
#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn a_standby_that_would_promote_past_its_epoch_is_not_promoted() {
    let (dir, mut rig) = deploy(600);
    wait_for("pg2 and pg3 to stream from pg1", || rig.streaming("pg1").len() == 2);
    rig.kill_agent("pg1");
    rig.kill_server("pg1").unwrap();
    // pg2's agent stops after its first action once the record names pg2: the private restart.
    rig.start_agent("pg2", Some(1)).unwrap();
    let cluster = rig.cluster_file();
    let out =
        rig.tool(&["observe", "--cluster", cluster.to_str().unwrap(), "--acknowledged-by", "pg2"]).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let observation = dir.path().join("observed.json");
    std::fs::write(&observation, &out.stdout).unwrap();
    let promoted = rig
        .tool(&["promote", "pg2", "--observed", observation.to_str().unwrap(), "--force", "--reason", "test"])
        .unwrap();
    assert_eq!(promoted.status.code(), Some(0), "{}", String::from_utf8_lossy(&promoted.stdout));
    wait_for("pg2's agent to pause", || rig.printed("pg2").iter().any(|l| l.starts_with("paused after")));
    // Timeline 2 exists already (forked from timeline 1 earlier): PostgreSQL would pick 3.
    let stray = rig.data_dir("pg2").join("pg_wal/00000002.history");
    std::fs::write(&stray, "1\t0/3000000\tfrom an archive\n").unwrap();
    rig.kill_agent("pg2");
    rig.start_agent("pg2", None).unwrap();
    wait_for("pg2's agent to refuse the promotion", || {
        rig.printed("pg2").iter().any(|l| l.starts_with("step failed: pg_wal holds 00000002.history"))
    });
    let refused = rig.printed("pg2").into_iter().find(|l| l.contains("pg_wal holds")).unwrap();
    assert!(refused.contains("not onto epoch 2") && refused.contains("not promoted"), "{refused}");
    assert!(!rig.printed("pg2").iter().any(|l| l.contains("writable")), "pg2 was opened");
    std::fs::remove_file(&stray).unwrap();
    wait_for("pg2 to lead on timeline 2", || {
        rig.state("pg2").is_some_and(|s| !s.in_recovery && s.timeline == 2)
    });
    let record = read_record(dir.path().join("authority")).unwrap().unwrap();
    assert_eq!(rig.state("pg2").unwrap().history, *record.epoch_history());
}

/// What a misconfigured deployment gets: refusals, never a guess. A cluster file whose line
/// reaches another node's server, or a server that answers but refuses the observer, makes no
/// observation (never "stopped"); a second agent for one data directory does not start; a
/// standby carrying a recovery target that would promote it stays a standby when its agent
/// starts it.
#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn misconfigurations_are_refused_not_guessed() {
    let (dir, mut rig) = deploy(600);
    wait_for("pg2 and pg3 to stream from pg1", || rig.streaming("pg1").len() == 2);
    let port = |node: &str| rig.port(node).unwrap();
    let observe_with = |name: &str, lines: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, lines).unwrap();
        let out = rig.tool(&["observe", "--cluster", file.to_str().unwrap()]).unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned(), out.stdout)
    };
    let line = |node: &str, port: u16, user: &str| {
        format!("{node} host=127.0.0.1 port={port} user={user} dbname=postgres connect_timeout=5\n")
    };
    // pg3's line reaches pg2's server.
    let crossed = [
        line("pg1", port("pg1"), "postgres"),
        line("pg2", port("pg2"), "postgres"),
        line("pg3", port("pg2"), "postgres"),
    ];
    let (code, stderr, stdout) = observe_with("crossed", &crossed.concat());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("line for pg3 reaches the server of node pg2"), "{stderr}");
    assert!(stdout.is_empty());
    // The primary answers but refuses the observer's role: alive, so no observation (and never
    // the operator's "stopped").
    let refused = [
        line("pg1", port("pg1"), "nobody_here"),
        line("pg2", port("pg2"), "postgres"),
        line("pg3", port("pg3"), "postgres"),
    ];
    let (code, stderr, stdout) = observe_with("refused", &refused.concat());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("pg1 answered but could not be read"), "{stderr}");
    assert!(stdout.is_empty());
    assert_eq!(rig.streaming("pg1").len(), 2, "a refused observation froze a standby");
    // A second agent for pg2's data directory.
    let second = Command::new(env!("CARGO_BIN_EXE_aerodb-pg-agent"))
        .args(["--node", "pg2", "--once"])
        .arg("--pgdata")
        .arg(rig.data_dir("pg2"))
        .arg("--bindir")
        .arg(aerodb_postgres::harness::Programs::locate().unwrap().bindir())
        .arg("--cluster")
        .arg(rig.cluster_file())
        .arg("--data-dir")
        .arg(dir.path().join("authority"))
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("another agent already manages"));
    // A recovery target that would end pg3's recovery and promote it, as a copied
    // configuration could carry: its agent starts it as a standby all the same.
    rig.kill_agent("pg3");
    rig.kill_server("pg3").unwrap();
    let auto = rig.data_dir("pg3").join("postgresql.auto.conf");
    let mut text = std::fs::read_to_string(&auto).unwrap();
    text.push_str("recovery_target_lsn = '0/3000000'\nrecovery_target_action = 'promote'\n");
    std::fs::write(&auto, text).unwrap();
    rig.start_agent("pg3", None).unwrap();
    wait_for("pg3 to stream from pg1 again", || rig.streaming("pg1").iter().any(|(n, _)| n == "pg3"));
    assert!(rig.state("pg3").unwrap().in_recovery, "pg3 ended recovery on a copied recovery target");
}

/// The tool's output: its exit code, stdout and stderr as text.
fn run(rig: &Rig, args: &[&str]) -> (Option<i32>, String, String) {
    let out = rig.tool(args).unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An observation of every node (standbys frozen), written to a file: its path and JSON.
fn observe(rig: &Rig, dir: &std::path::Path, name: &str) -> (String, serde_json::Value) {
    let cluster = rig.cluster_file();
    let (code, stdout, stderr) = run(rig, &["observe", "--cluster", cluster.to_str().unwrap()]);
    assert_eq!(code, Some(0), "observe: {stderr}");
    let path = dir.join(name);
    std::fs::write(&path, &stdout).unwrap();
    (path.to_str().unwrap().to_owned(), serde_json::from_str(&stdout).unwrap())
}

/// Node ids observed, highest WAL end first.
fn by_position(observation: &serde_json::Value) -> Vec<String> {
    let mut nodes: Vec<((u64, u64), String)> = observation["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let at = &n["position"];
            (
                (at["epoch"].as_u64().unwrap(), at["lsn"].as_u64().unwrap()),
                n["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    nodes.sort();
    nodes.into_iter().rev().map(|(_, id)| id).collect()
}

/// The primary report kept beside the authority, as the agents and the tool read it.
fn report(dir: &std::path::Path) -> Option<aerodb_promotion::PrimaryReport> {
    aerodb_promotion::file_store::read_report(dir.join("authority")).unwrap()
}

/// Synchronous commits acknowledged by pg3 alone: pg2 is disconnected (its agent stopped, its
/// WAL receiver off) while pg1 commits under `rule`, then pg1's host is lost (agent and server
/// killed). The bound is derived from the rule pg1's agent recorded and the observed standbys:
/// promoting pg2 is denied with the derived bound shown, pg3 is approved (on the operator's
/// statement that pg1's host is gone, without which it is denied: nothing else can tell), and no
/// acknowledged row is lost; `history` keeps the evidence.
fn acknowledged_by_pg3_only(rule: &str, applied: &str) {
    let (dir, mut rig) = deploy_with(600, &["--synchronous", rule]);
    wait_for("pg1 to lead with pg2 and pg3 streaming", || rig.streaming("pg1").len() == 2);
    wait_for("pg1's rule in its report", || {
        report(dir.path())
            .is_some_and(|r| r.synchronous().iter().map(ToString::to_string).eq([applied.to_owned()]))
    });
    let mut primary = rig.config("pg1").connect(NoTls).unwrap();
    let names: String = primary.query_one("SHOW synchronous_standby_names", &[]).unwrap().get(0);
    assert_eq!(names, applied, "the rule pg1 applies");
    // pg2 cut off: its agent stopped, then its WAL receiver.
    rig.kill_agent("pg2");
    let mut pg2 = rig.config("pg2").connect(NoTls).unwrap();
    pg2.batch_execute("ALTER SYSTEM SET primary_conninfo = ''").unwrap();
    pg2.batch_execute("SELECT pg_reload_conf()").unwrap();
    wait_for("pg2 to stop receiving", || rig.state("pg2").is_some_and(|s| !s.receiving));
    wait_for("pg3 to be pg1's synchronous standby", || {
        rig.streaming("pg1").iter().any(|(n, s)| n == "pg3" && (s == "sync" || s == "quorum"))
    });
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicUsize::new(0));
    let load = writer(rig.config("pg1"), 1, Arc::clone(&stop), Arc::clone(&count));
    wait_for("50 commits acknowledged by pg3 alone", || {
        count.load(Ordering::Relaxed) >= 50 || load.is_finished()
    });
    rig.kill_agent("pg1");
    rig.kill_server("pg1").unwrap();
    stop.store(true, Ordering::Relaxed);
    let acknowledged = load.join().unwrap().unwrap();
    assert!(acknowledged.len() >= 50, "{} commits acknowledged", acknowledged.len());

    let (observed, observation) = observe(&rig, dir.path(), "observed.json");
    assert!(observation["acknowledged"].is_null(), "the observation gives no bound of its own");
    // `candidates` says what each lacks: pg3 only the old primary's state; pg2 also the WAL
    // pg3 acknowledged.
    let (code, stdout, _) = run(&rig, &["candidates", "--observed", &observed]);
    assert_eq!(code, Some(4), "{stdout}");
    let pg2 = stdout.split("pg3:").next().unwrap();
    let pg3 = stdout.split("pg3:").nth(1).unwrap();
    assert!(pg3.contains("missing: old primary pg1 confirmed stopped"), "{stdout}");
    assert!(!pg3.contains("flush ≥"), "{stdout}");
    assert!(pg2.contains("missing: flush ≥") && pg2.contains("on pg2"), "{stdout}");
    assert!(stdout.ends_with("no node would be approved\n"), "{stdout}");
    // Nobody can tell pg1 is down: denied, whoever is asked for.
    let (code, stdout, _) = run(&rig, &["promote", "pg3", "--observed", &observed, "--dry-run"]);
    assert_eq!(code, Some(4), "{stdout}");
    assert!(stdout.contains("the current primary's state is unknown"), "{stdout}");
    // pg2 lacks what pg3 acknowledged: denied, the derivation shown.
    let (code, stdout, _) = run(
        &rig,
        &[
            "promote",
            "pg2",
            "--observed",
            &observed,
            "--force",
            "--reason",
            "pg1's host is gone",
            "--dry-run",
        ],
    );
    assert_eq!(code, Some(4), "{stdout}");
    assert!(stdout.contains("derived from the synchronous rules, set by pg3"), "{stdout}");
    assert!(stdout.contains(&format!("derived: {applied} needs 2 observed")), "{stdout}");
    assert!(stdout.contains("before the acknowledged position"), "{stdout}");
    // pg3: approved and committed on the operator's statement, the evidence kept.
    let (code, stdout, stderr) =
        run(&rig, &["promote", "pg3", "--observed", &observed, "--force", "--reason", "pg1's host is gone"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let (code, history, _) = run(&rig, &["history"]);
    assert_eq!(code, Some(0));
    let newest = history.lines().next().unwrap();
    assert!(newest.starts_with("epoch 2 primary pg3"), "{history}");
    assert!(newest.contains("force=carried_the_decision, reason=\"pg1's host is gone\""), "{newest}");
    assert!(newest.contains("derived from the synchronous rules, set by pg3"), "{newest}");
    assert!(newest.contains("the operator's statement (force)"), "{newest}");
    rig.start_agent("pg2", None).unwrap();
    wait_for("pg3 to lead at timeline 2", || {
        rig.state("pg3").is_some_and(|s| !s.in_recovery && s.timeline == 2)
    });
    let mut pg3 = rig.config("pg3").connect(NoTls).unwrap();
    let rows: BTreeSet<i64> =
        pg3.query("SELECT id FROM acked", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    let lost: Vec<&i64> = acknowledged.iter().filter(|id| !rows.contains(id)).collect();
    assert!(lost.is_empty(), "acknowledged rows lost: {lost:?}");
    // pg3's agent records its own rule for epoch 2 (pg3 left out of it).
    wait_for("pg3's report for epoch 2", || {
        report(dir.path()).is_some_and(|r| {
            r.epoch().get() == 2 && r.primary().as_str() == "pg3" && !r.synchronous().is_empty()
        })
    });
    println!(
        "{rule}: {} rows acknowledged by pg3 alone, pg2 denied, pg3 promoted, 0 lost",
        acknowledged.len()
    );
}

#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn any_1_of_pg2_pg3_acknowledged_by_pg3_alone_denies_pg2_and_promotes_pg3() {
    acknowledged_by_pg3_only("ANY 1 (pg1, pg2, pg3)", "ANY 1 (pg2, pg3)");
}

#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn first_1_switched_to_pg3_while_pg2_was_away_denies_pg2() {
    acknowledged_by_pg3_only("FIRST 1 (pg1, pg2, pg3)", "FIRST 1 (pg2, pg3)");
}

/// pg1's agent alive, its server dead and unable to start: `stop-primary` asks it to stop for
/// good, its agent states durably that it stopped (with pg_controldata's last checkpoint), and
/// the promotion is approved on that statement, with no operator statement; pg1's agent never
/// starts it again at epoch 1, and it rejoins as a standby of the new primary.
#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn a_dead_server_with_its_agent_alive_is_stopped_on_its_agents_statement() {
    let (dir, mut rig) = deploy_with(600, &["--synchronous", "FIRST 1 (pg1, pg2, pg3)"]);
    wait_for("pg1 to lead with pg2 and pg3 streaming", || rig.streaming("pg1").len() == 2);
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicUsize::new(0));
    let load = writer(rig.config("pg1"), 1, Arc::clone(&stop), Arc::clone(&count));
    wait_for("50 commits", || count.load(Ordering::Relaxed) >= 50 || load.is_finished());
    // The server dies and cannot start again (its configuration is gone); its agent lives.
    rig.kill_agent("pg1");
    rig.kill_server("pg1").unwrap();
    stop.store(true, Ordering::Relaxed);
    let acknowledged = load.join().unwrap().unwrap();
    let conf = rig.data_dir("pg1").join("postgresql.conf");
    let aside = conf.with_extension("aside");
    std::fs::rename(&conf, &aside).unwrap();
    rig.start_agent("pg1", None).unwrap();
    wait_for("pg1's agent to fail to start it", || {
        rig.printed("pg1").iter().any(|l| l.starts_with("step failed"))
    });
    // Without a statement: denied.
    let (observed, _) = observe(&rig, dir.path(), "before.json");
    let (code, stdout, _) = run(&rig, &["promote", "pg2", "--observed", &observed, "--dry-run"]);
    assert_eq!(code, Some(4), "{stdout}");
    let (code, stdout, _) = run(&rig, &["candidates", "--observed", &observed]);
    assert_eq!(code, Some(4), "{stdout}");
    assert!(stdout.contains("missing: old primary pg1 confirmed stopped"), "{stdout}");
    let before = rig.printed("pg1").len();
    let (code, stdout, stderr) = run(&rig, &["stop-primary", "--wait", "60"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("pg1 stopped for good at epoch 1, not cleanly"), "{stdout}");
    let stated = report(dir.path()).unwrap();
    assert!(stated.stop_requested() && stated.stopped().is_some_and(|s| !s.clean), "{stated:?}");
    // Approved on the agent's statement: no --force.
    let (observed, observation) = observe(&rig, dir.path(), "after.json");
    let candidate = by_position(&observation).into_iter().find(|n| n != "pg1").unwrap();
    let (code, stdout, _) = run(&rig, &["candidates", "--observed", &observed]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains(&format!("{candidate}: WOULD APPROVE")), "{stdout}");
    let (code, stdout, stderr) =
        run(&rig, &["promote", &candidate, "--observed", &observed, "--reason", "pg1 dead"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("its agent stated it stopped (not cleanly"), "{stdout}");
    let (_, history, _) = run(&rig, &["history"]);
    let newest = history.lines().next().unwrap();
    assert!(newest.contains("force=not_requested") && newest.contains("its agent's statement"), "{newest}");
    assert!(
        !rig.printed("pg1")[before..]
            .iter()
            .any(|l| l.contains("writable") || l.contains("step: start the server")),
        "pg1's agent started it after the stop request: {:?}",
        rig.printed("pg1")
    );
    // Back with its configuration, pg1 rejoins as a standby of the new primary.
    std::fs::rename(&aside, &conf).unwrap();
    wait_for(&format!("pg1 to stream from {candidate}"), || {
        rig.streaming(&candidate).iter().any(|(n, _)| n == "pg1")
    });
    assert!(rig.state("pg1").unwrap().in_recovery, "pg1 came back writable");
    let mut new = rig.config(&candidate).connect(NoTls).unwrap();
    let rows: BTreeSet<i64> =
        new.query("SELECT id FROM acked", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert!(acknowledged.iter().all(|id| rows.contains(id)), "acknowledged rows lost");
    println!(
        "pg1 stopped on its agent's statement; {candidate} promoted without force; {} rows, 0 lost",
        acknowledged.len()
    );
}

/// Runs the tool with `args` and `--pause-after n`, waits until it says it paused after its
/// nth step, and SIGKILLs it there: a controller killed at that step.
fn killed_after(dir: &std::path::Path, args: &[&str], n: u32) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_aerodb-promote"))
        .env("RUST_LOG", "off")
        .arg("--data-dir")
        .arg(dir.join("authority"))
        .args(args)
        .args(["--pause-after", &n.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    loop {
        let line = received
            .recv_timeout(deployment::WAIT_LIMIT)
            .unwrap_or_else(|e| panic!("no pause after step {n} ({e}): {printed:?}"));
        let paused = line.contains(&format!("paused after {n} steps"));
        printed.push(line);
        if paused {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Planned switchovers under continuous synchronous write load, back and forth between pg1
/// and pg2 (pg3 following), the controller SIGKILLed after each of its steps in turn and run
/// again: every time exactly one more authority, 0 acknowledged rows lost, the old primary
/// rejoining as a standby without pg_rewind.
#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn switchovers_under_write_load_lose_nothing_and_need_no_rewind() {
    let rounds: usize = std::env::var("AERODB_SWITCHOVERS").ok().and_then(|r| r.parse().ok()).unwrap_or(10);
    let (dir, rig) = deploy_with(600, &["--synchronous", "FIRST 1 (pg1, pg2, pg3)"]);
    let cluster = rig.cluster_file().to_str().unwrap().to_owned();
    let (mut primary, mut next) = ("pg1", "pg2");
    let mut total = 0;
    for round in 0..rounds {
        let epoch = round as u64 + 1;
        wait_for(&format!("{next} synchronous to {primary}"), || {
            rig.streaming(primary).iter().any(|(n, s)| n == next && s == "sync")
        });
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicUsize::new(0));
        let load =
            writer(rig.config(primary), round as i64 * 1_000_000 + 1, Arc::clone(&stop), Arc::clone(&count));
        wait_for("20 commits", || count.load(Ordering::Relaxed) >= 20 || load.is_finished());
        let args = ["switchover", next, "--cluster", &cluster, "--wait", "60", "--reason", "maintenance"];
        let kill = [None, Some(1), Some(2), Some(3), Some(4)][round % 5];
        if let Some(n) = kill {
            killed_after(dir.path(), &args, n);
        }
        let (code, stdout, stderr) = run(&rig, &args);
        assert_eq!(code, Some(0), "round {round} (killed after {kill:?}): {stdout}{stderr}");
        stop.store(true, Ordering::Relaxed);
        let acknowledged = load.join().unwrap().unwrap();
        total += acknowledged.len();
        let record = read_record(dir.path().join("authority")).unwrap().unwrap();
        assert_eq!((record.epoch().get(), record.primary().as_str()), (epoch + 1, next), "round {round}");
        assert!(
            record.request().and_then(|r| r.reason.as_deref()) == Some("switchover: maintenance"),
            "round {round}: {record}"
        );
        let evidence = record.request().and_then(|r| r.evidence).unwrap();
        assert_eq!(evidence.old_primary_from, aerodb_promotion::OldPrimarySource::Agent, "round {round}");
        wait_for(&format!("{next} to lead at timeline {}", epoch + 1), || {
            rig.state(next).is_some_and(|s| !s.in_recovery && u64::from(s.timeline) == epoch + 1)
        });
        let mut client = rig.config(next).connect(NoTls).unwrap();
        let rows: BTreeSet<i64> =
            client.query("SELECT id FROM acked", &[]).unwrap().iter().map(|r| r.get(0)).collect();
        let lost: Vec<&i64> = acknowledged.iter().filter(|id| !rows.contains(id)).collect();
        assert!(lost.is_empty(), "round {round}: acknowledged rows lost: {lost:?}");
        wait_for(&format!("{primary} and pg3 to stream from {next}"), || {
            let names: Vec<String> = rig.streaming(next).into_iter().map(|(n, _)| n).collect();
            names.contains(&primary.to_owned()) && names.contains(&"pg3".to_owned())
        });
        let printed = rig.printed(primary);
        assert!(printed.iter().any(|l| l.contains("no pg_rewind")), "round {round}: {printed:?}");
        assert!(
            !printed.iter().any(|l| l.contains("step: pg_rewind from")),
            "round {round}: rewound: {printed:?}"
        );
        println!(
            "round {round}: {primary} -> {next} at epoch {}, controller killed after {kill:?}, {} rows acknowledged",
            epoch + 1,
            acknowledged.len()
        );
        (primary, next) = (next, primary);
    }
    println!("{rounds} switchovers, {total} acknowledged rows, 0 lost, no pg_rewind");
}

/// A switchover that cannot finish does not start: `ANY 1 (pg2, pg3)` with pg2 disconnected is
/// refused before anything changes. One that stops waiting (the candidate's replication cut
/// after the stop was asked) commits nothing and leaves the old primary the stopped authority,
/// which `resume-primary` starts again.
#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn a_switchover_that_cannot_finish_changes_nothing_or_is_resumed() {
    let (dir, mut rig) = deploy_with(600, &["--synchronous", "ANY 1 (pg1, pg2, pg3)"]);
    let cluster = rig.cluster_file().to_str().unwrap().to_owned();
    wait_for("pg2 and pg3 to stream from pg1", || rig.streaming("pg1").len() == 2);
    rig.kill_agent("pg2");
    let mut pg2 = rig.config("pg2").connect(NoTls).unwrap();
    pg2.batch_execute("ALTER SYSTEM SET primary_conninfo = ''").unwrap();
    pg2.batch_execute("SELECT pg_reload_conf()").unwrap();
    wait_for("pg2 to stop receiving", || rig.state("pg2").is_some_and(|s| !s.receiving));
    let (code, stdout, stderr) = run(&rig, &["switchover", "pg2", "--cluster", &cluster]);
    assert_eq!(code, Some(4), "{stdout}{stderr}");
    assert!(
        stderr.contains("switchover refused, nothing changed: pg2 is not a standby receiving WAL"),
        "{stderr}"
    );
    assert!(report(dir.path()).is_none_or(|r| !r.stop_requested()), "a stop was asked");
    assert_eq!(read_record(dir.path().join("authority")).unwrap().unwrap().epoch().get(), 1);
    // To pg3: asked to stop, then pg3's replication cut before it receives the checkpoint.
    let args = ["switchover", "pg3", "--cluster", &cluster, "--wait", "3"];
    killed_after(dir.path(), &args, 1);
    rig.kill_agent("pg3");
    let mut pg3 = rig.config("pg3").connect(NoTls).unwrap();
    pg3.batch_execute("ALTER SYSTEM SET primary_conninfo = ''").unwrap();
    pg3.batch_execute("SELECT pg_reload_conf()").unwrap();
    let (code, stdout, stderr) = run(&rig, &args);
    assert_eq!(code, Some(6), "{stdout}{stderr}");
    assert!(stderr.contains("The authority is unchanged (pg1, stopped)"), "{stderr}");
    assert!(stderr.contains("resume-primary"), "{stderr}");
    let record = read_record(dir.path().join("authority")).unwrap().unwrap();
    assert_eq!((record.epoch().get(), record.primary().as_str()), (1, "pg1"));
    assert!(rig.state("pg1").is_none(), "pg1 runs although it was asked to stop");
    // Resumed: pg1's agent starts it again, writable.
    let (code, stdout, stderr) = run(&rig, &["resume-primary"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    wait_for("pg1 to lead again", || rig.state("pg1").is_some_and(|s| !s.in_recovery));
    rig.start_agent("pg2", None).unwrap();
    rig.start_agent("pg3", None).unwrap();
    wait_for("pg2 and pg3 to stream from pg1 again", || rig.streaming("pg1").len() == 2);
    let mut client = rig.config("pg1").connect(NoTls).unwrap();
    client.execute("INSERT INTO acked VALUES (7)", &[]).unwrap();
}

/// A `--synchronous` agent's standby carries the fence (`FENCE_RULE`): promoted by hand behind
/// its agent's back, it acknowledges no commit — the session waits on synchronous replication
/// to a standby that cannot exist — and its agent, back, stops it at once (the authority names
/// pg1) and makes it a standby again. Fails if a standby is left unarmed.
#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn a_standby_promoted_by_hand_acknowledges_nothing_and_is_fenced() {
    use aerodb_cli::agent::plan::FENCE_RULE;
    let (_dir, mut rig) = deploy_with(600, &["--synchronous", "FIRST 1 (pg1, pg2, pg3)"]);
    wait_for("pg1 to lead with pg2 and pg3 streaming", || rig.streaming("pg1").len() == 2);
    wait_for("pg3's agent to arm the fence", || names(&rig, "pg3") == FENCE_RULE);
    assert_ne!(names(&rig, "pg1"), FENCE_RULE, "the primary carries the fence");
    rig.kill_agent("pg3");
    let mut pg3 = rig.config("pg3").connect(NoTls).unwrap();
    let promoted: bool = pg3.query_one("SELECT pg_promote(true, 60)", &[]).unwrap().get(0);
    assert!(promoted);
    // A commit on the promoted pg3 is made, and waits: never acknowledged.
    let config = rig.config("pg3");
    let commit = std::thread::spawn(move || {
        let mut client = config.connect(NoTls).map_err(|e| e.to_string())?;
        let pid: i32 = client.query_one("SELECT pg_backend_pid()", &[]).map_err(|e| e.to_string())?.get(0);
        println!("committing session {pid}");
        client.execute("INSERT INTO acked VALUES (-1)", &[]).map(|_| pid).map_err(|e| e.to_string())
    });
    wait_for("the commit on pg3 to wait for synchronous replication", || {
        pg3.query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND query LIKE 'INSERT%'",
            &[],
        )
        .is_ok_and(|row| row.get::<_, i64>(0) == 1)
    });
    assert!(!commit.is_finished(), "the commit returned on a fenced server");
    // Its agent back: the server is not the authority's, so it is stopped at once and rewound.
    rig.start_agent("pg3", None).unwrap();
    let acknowledged = commit.join().unwrap();
    assert!(acknowledged.is_err(), "a commit on the hand-promoted pg3 was acknowledged: {acknowledged:?}");
    wait_for("pg3 to stream from pg1 again", || rig.streaming("pg1").iter().any(|(n, _)| n == "pg3"));
    assert!(
        rig.printed("pg3").iter().any(|l| l.contains("fence: stop the server at once")),
        "{:?}",
        rig.printed("pg3")
    );
    wait_for("pg3 armed again", || names(&rig, "pg3") == FENCE_RULE);
    println!("the hand-promoted pg3 acknowledged nothing and was fenced: {acknowledged:?}");
}

/// Failovers with `--synchronous` agents, whose standbys are promoted under the fence (no
/// private restart): the candidate's agent — and in half the rounds its server — is killed
/// after each of its actions once the record names it (record the rule, promote, set the rule).
/// Every round: timeline = epoch, the history file = the record, every acknowledged row kept,
/// the new primary under its own rule (never left fenced), and the others armed again.
#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn fenced_promotions_with_the_candidates_agent_killed_after_each_action() {
    use aerodb_cli::agent::plan::FENCE_RULE;
    let kills = [
        Kill::Agent(1),
        Kill::AgentAndServer(2),
        Kill::Agent(3),
        Kill::AgentAndServer(1),
        Kill::Agent(2),
        Kill::AgentAndServer(3),
        Kill::None,
    ];
    let (dir, mut rig) = deploy_with(600, &["--synchronous", "FIRST 1 (pg1, pg2, pg3)"]);
    let mut primary = "pg1".to_owned();
    let mut all_acknowledged: Vec<i64> = Vec::new();
    for (round, kill) in kills.into_iter().enumerate() {
        let epoch = round as u64 + 1;
        let mut sync = None;
        wait_for(
            &format!("round {round}: {primary} with a synchronous standby, both standbys armed"),
            || {
                let streaming = rig.streaming(&primary);
                sync = streaming.iter().find(|(_, s)| s == "sync").map(|(n, _)| n.clone());
                streaming.len() == 2
                    && sync.is_some()
                    && NODES.iter().filter(|n| **n != primary).all(|n| names(&rig, n) == FENCE_RULE)
            },
        );
        let sync = sync.unwrap();
        let other = NODES.iter().find(|n| **n != primary && **n != sync).unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicUsize::new(0));
        let first = 50_000_000 + round as i64 * 1_000_000;
        let load = writer(rig.config(&primary), first, Arc::clone(&stop), Arc::clone(&count));
        wait_for("50 acknowledged commits", || count.load(Ordering::Relaxed) >= 50 || load.is_finished());
        rig.kill_agent(&primary);
        rig.kill_server(&primary).unwrap();
        stop.store(true, Ordering::Relaxed);
        let acknowledged = load.join().unwrap().unwrap_or_else(|e| panic!("round {round}: {e}"));
        all_acknowledged.extend(&acknowledged);
        if let Kill::Agent(n) | Kill::AgentAndServer(n) = kill {
            rig.start_agent(&sync, Some(n)).unwrap();
        }
        let (observed, _) = observe(&rig, dir.path(), &format!("fenced-{round}.json"));
        let (code, stdout, stderr) =
            run(&rig, &["promote", &sync, "--observed", &observed, "--force", "--reason", "primary lost"]);
        assert_eq!(code, Some(0), "round {round}: {sync} not promoted:\n{stdout}{stderr}");
        let record = read_record(dir.path().join("authority")).unwrap().unwrap();
        assert_eq!((record.epoch().get(), record.primary().as_str()), (epoch + 1, sync.as_str()));
        if let Kill::Agent(n) | Kill::AgentAndServer(n) = kill {
            wait_for(&format!("round {round}: {sync}'s agent to pause after {n} actions"), || {
                rig.printed(&sync).iter().any(|l| l.starts_with("paused after"))
            });
            let printed = rig.kill_agent(&sync);
            assert!(
                !printed.iter().any(|l| l.contains("private")),
                "round {round}: a fenced promotion restarted privately: {printed:?}"
            );
            if matches!(kill, Kill::AgentAndServer(_)) {
                rig.kill_server(&sync).unwrap();
            }
            rig.start_agent(&sync, None).unwrap();
        }
        wait_for(&format!("round {round}: {sync} to lead at timeline {}", epoch + 1), || {
            rig.state(&sync).is_some_and(|s| !s.in_recovery && u64::from(s.timeline) == epoch + 1)
        });
        assert_eq!(rig.state(&sync).unwrap().history, *record.epoch_history(), "round {round}");
        // Under its own rule, with the others streaming from it and armed again.
        rig.start_agent(&primary, None).unwrap();
        wait_for(&format!("round {round}: {primary} and {other} to stream from {sync}"), || {
            let names: Vec<String> = rig.streaming(&sync).into_iter().map(|(n, _)| n).collect();
            names.contains(&primary) && names.contains(&other)
        });
        wait_for(&format!("round {round}: {sync} under its own rule"), || {
            let rule = names(&rig, &sync);
            rule.starts_with("FIRST 1 (") && rule != FENCE_RULE
        });
        let mut client = rig.config(&sync).connect(NoTls).unwrap();
        let rows: BTreeSet<i64> =
            client.query("SELECT id FROM acked", &[]).unwrap().iter().map(|r| r.get(0)).collect();
        let lost: Vec<i64> = all_acknowledged.iter().copied().filter(|id| !rows.contains(id)).collect();
        assert!(lost.is_empty(), "round {round}: acknowledged rows lost: {lost:?}");
        client.execute("INSERT INTO acked VALUES ($1)", &[&-(first)]).unwrap();
        println!(
            "round {round}: {primary} -> {sync} at epoch {}, candidate {kill:?}, {} rows",
            epoch + 1,
            acknowledged.len()
        );
        primary = sync;
    }
}

/// `synchronous_standby_names` as `node`'s server applies it (empty if it cannot be asked).
fn names(rig: &Rig, node: &str) -> String {
    rig.config(node)
        .connect(NoTls)
        .and_then(|mut c| c.query_one("SHOW synchronous_standby_names", &[]))
        .map(|row| row.get(0))
        .unwrap_or_default()
}
