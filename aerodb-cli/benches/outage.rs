//! The write outage of `aerodb-promote switchover` and of a failover (`observe` + `promote`),
//! each beside its floor measured in the same run on the same machine: bare PostgreSQL, no
//! agents. Issue 26; figures and how to read them: BENCHMARKS.md.
//!
//! ```sh
//! cargo bench -p aerodb-cli --bench outage
//! ```
//!
//! Needs PostgreSQL's server programs (Debian's `postgresql`, or `AERODB_PG_BINDIR`); without
//! them it prints that it cannot run and measures nothing. Every server listens on a free
//! loopback port, every round is bounded in time, and every server and agent it started is
//! stopped when it ends (or on SIGTERM / SIGINT).
//!
//! A client writes continuously (one synchronous-commit `INSERT` after another), going to
//! whichever node accepts the write; every acknowledgement is stamped with a monotonic clock.
//! One criterion iteration is one round:
//!
//! * switchover: from the last write acknowledged by the old primary to the first acknowledged
//!   by the new one. Floor: `pg_ctl stop -m fast` on the primary, `pg_controldata`'s shutdown
//!   checkpoint, waiting for the synchronous standby to have received it, `pg_promote(wait =>
//!   true)` on it, its first write. Measured: `aerodb-promote switchover` on a deployment with
//!   one agent per server.
//! * failover: the primary and its agent are killed; from the start of the operator's command to
//!   the first write acknowledged by the new primary. Floor: `pg_promote(wait => true)` on the
//!   synchronous standby. Measured: `aerodb-promote observe`, then `aerodb-promote promote
//!   --observed --force`.
//!
//! The deployment is measured with the agents' `--interval-ms 50` (the test deployment's) and
//! 10 (the least the agent accepts).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aerodb_postgres::control::ServerControl;
use aerodb_postgres::deployment::{self, Deployment, Launcher};
use aerodb_postgres::harness::{self, Programs, Server, Site};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use postgres::error::SqlState;
use postgres::types::PgLsn;
use postgres::{Client, NoTls};

const NODES: [&str; 3] = ["pg1", "pg2", "pg3"];
/// The agents' synchronous rule, as in the switchover test: the primary left out, `FIRST 1`.
const RULE: &str = "FIRST 1 (pg1, pg2, pg3)";
/// How long any one wait of a round may take.
const LIMIT: Duration = Duration::from_secs(60);
/// Acknowledged writes on the primary before a round starts.
const WARM: usize = 20;

// ---------------------------------------------------------------------------------------------
// The client.

/// A client writing continuously to whichever of `nodes` accepts writes: each acknowledged
/// write as (when, which node).
struct Writer {
    stop: Arc<AtomicBool>,
    acks: Arc<Mutex<Vec<(Instant, usize)>>>,
    handle: Option<JoinHandle<()>>,
}

impl Writer {
    /// Writes ids from `first` on, each attempt its own id (a commit whose acknowledgement was
    /// lost may be durable).
    fn start(nodes: Vec<postgres::Config>, first: i64) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(Mutex::new(Vec::new()));
        let (halt, sink) = (Arc::clone(&stop), Arc::clone(&acks));
        let handle = std::thread::spawn(move || {
            let mut clients: Vec<Option<Client>> = nodes.iter().map(|_| None).collect();
            let mut current: Option<usize> = None;
            let mut id = first;
            while !halt.load(Ordering::Relaxed) {
                let order: Vec<usize> = match current {
                    Some(i) => vec![i],
                    None => (0..nodes.len()).collect(),
                };
                let searching = current.is_none();
                current = None;
                for i in order {
                    if clients[i].is_none() {
                        clients[i] = nodes[i].connect(NoTls).ok();
                    }
                    let Some(client) = clients[i].as_mut() else { continue };
                    id += 1;
                    match client.execute("INSERT INTO acked VALUES ($1)", &[&id]) {
                        Ok(_) => {
                            sink.lock().unwrap_or_else(PoisonError::into_inner).push((Instant::now(), i));
                            current = Some(i);
                            break;
                        }
                        // A standby: the session stays, and writes once it is promoted.
                        Err(e) if e.code() == Some(&SqlState::READ_ONLY_SQL_TRANSACTION) => {}
                        Err(_) => clients[i] = None,
                    }
                }
                if current.is_none() && searching {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        });
        Writer { stop, acks, handle: Some(handle) }
    }

    fn acks(&self) -> Vec<(Instant, usize)> {
        self.acks.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Waits (bounded) until `node` has acknowledged `count` writes since `since`; the first.
    fn wait_acked(&self, node: usize, count: usize, since: Instant) -> Instant {
        let deadline = Instant::now() + LIMIT;
        loop {
            let acks = self.acks();
            let mine: Vec<Instant> =
                acks.iter().filter(|(t, n)| *n == node && *t >= since).map(|a| a.0).collect();
            if mine.len() >= count {
                return mine[0];
            }
            assert!(Instant::now() < deadline, "node {} acknowledged no write within {LIMIT:?}", NODES[node]);
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Stops it; its acknowledgements.
    fn finish(mut self) -> Vec<(Instant, usize)> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            handle.join().expect("the writer panicked");
        }
        self.acks()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The last acknowledgement by `old` before the first by `new`, and that first.
fn handover(acks: &[(Instant, usize)], old: usize, new: usize) -> (Instant, Instant) {
    let first_new = acks.iter().position(|(_, n)| *n == new).expect("the new primary acknowledged a write");
    let last_old = acks[..first_new]
        .iter()
        .rev()
        .find(|(_, n)| *n == old)
        .expect("the old primary acknowledged a write");
    assert!(
        acks[..first_new].iter().all(|(_, n)| *n == old),
        "a third node acknowledged a write during the handover"
    );
    (last_old.0, acks[first_new].0)
}

static NEXT_ID: Mutex<i64> = Mutex::new(0);

/// The floor's stop, as the issue names it: a bare `pg_ctl stop -m fast` (which waits, polling
/// every 100 ms), as the data directory's owner.
fn pg_ctl_stop_fast(bindir: &Path, data: &Path) {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    let owner = std::fs::metadata(data).expect("reads the data directory");
    let mut command = Command::new(bindir.join("pg_ctl"));
    command.args(["stop", "-m", "fast", "-D"]).arg(data).env("LC_ALL", "C").current_dir("/");
    command.uid(owner.uid()).gid(owner.gid()).stdin(Stdio::null()).stdout(Stdio::null());
    let status = command.status().expect("runs pg_ctl");
    assert!(status.success(), "pg_ctl stop -m fast: {status}");
}

/// The first id of a new writer: a range no earlier writer used.
fn next_ids() -> i64 {
    let mut next = NEXT_ID.lock().unwrap_or_else(PoisonError::into_inner);
    *next += 10_000_000;
    *next
}

fn config(port: u16) -> postgres::Config {
    let mut config = postgres::Config::new();
    config.host("127.0.0.1").port(port).user("postgres").dbname("postgres");
    config.connect_timeout(Duration::from_secs(2));
    config
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ---------------------------------------------------------------------------------------------
// The rounds' figures.

/// What each round measured, beside the outage criterion times.
#[derive(Default)]
struct Rounds {
    name: String,
    /// (outage, breakdown) per round; the first is criterion's warm-up.
    rounds: Vec<(Duration, String)>,
}

impl Rounds {
    fn new(name: &str) -> Rounds {
        Rounds { name: name.to_owned(), rounds: Vec::new() }
    }

    fn push(&mut self, outage: Duration, breakdown: String) -> Duration {
        eprintln!("  {} round {}: outage {:.1} ms ({breakdown})", self.name, self.rounds.len(), ms(outage));
        self.rounds.push((outage, breakdown));
        outage
    }

    /// Median, least and greatest outage, the warm-up round left out.
    fn summary(&self) -> String {
        let mut times: Vec<Duration> = self.rounds.iter().skip(1).map(|r| r.0).collect();
        if times.is_empty() {
            return format!("{}: no rounds", self.name);
        }
        times.sort();
        let n = times.len();
        let median = if n % 2 == 1 { times[n / 2] } else { (times[n / 2 - 1] + times[n / 2]) / 2 };
        format!(
            "{}: {n} rounds, median {:.1} ms, min {:.1} ms, max {:.1} ms",
            self.name,
            ms(median),
            ms(times[0]),
            ms(times[n - 1])
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The floor: three bare servers, no agents.

/// pg1, pg2, pg3 started by this process: one primary (`FIRST 1` of the other two), two
/// standbys streaming from it.
struct Bare {
    servers: Vec<Server>,
    site: Site,
    bindir: std::path::PathBuf,
    primary: usize,
    _dir: tempfile::TempDir,
}

impl Bare {
    fn start(programs: Programs) -> Bare {
        let dir =
            tempfile::Builder::new().prefix("aerodb-outage-bare-").tempdir().expect("temporary directory");
        let bindir = programs.bindir().to_owned();
        let site = Site::new(programs, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let mut pg1 = site.initdb("pg1").unwrap_or_else(|e| panic!("{e}"));
        pg1.start().unwrap_or_else(|e| panic!("{e}"));
        pg1.connect()
            .unwrap_or_else(|e| panic!("{e}"))
            .batch_execute("CREATE TABLE acked (id bigint PRIMARY KEY)")
            .expect("creates the table");
        let mut servers = vec![pg1];
        for name in &NODES[1..] {
            servers.push(site.base_backup(&servers[0], name).unwrap_or_else(|e| panic!("{e}")));
        }
        for server in &mut servers[1..] {
            server.start().unwrap_or_else(|e| panic!("{e}"));
        }
        let mut bare = Bare { servers, site, bindir, primary: 0, _dir: dir };
        bare.make_synchronous();
        bare
    }

    fn standbys(&self) -> Vec<usize> {
        (0..NODES.len()).filter(|i| *i != self.primary).collect()
    }

    fn configs(&self) -> Vec<postgres::Config> {
        self.servers.iter().map(|s| config(s.port())).collect()
    }

    /// The primary's rule `FIRST 1 (the other two)`, reloaded; waits for both standbys to
    /// stream, one synchronous. The synchronous one.
    fn make_synchronous(&mut self) -> usize {
        let standbys = self.standbys();
        let rule = format!("FIRST 1 ({}, {})", NODES[standbys[0]], NODES[standbys[1]]);
        let primary = &self.servers[self.primary];
        primary
            .configure(&format!("synchronous_standby_names = '{rule}'\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut client = primary.connect().unwrap_or_else(|e| panic!("{e}"));
        client.batch_execute("SELECT pg_reload_conf()").expect("reloads");
        let mut sync = None;
        deployment::wait_for("both standbys streaming, one synchronous", || {
            let rows = client
                .query(
                    "SELECT application_name, sync_state FROM pg_stat_replication WHERE state = 'streaming'",
                    &[],
                )
                .unwrap_or_default();
            sync = rows
                .iter()
                .find(|r| r.get::<_, String>(1) == "sync")
                .and_then(|r| NODES.iter().position(|n| *n == r.get::<_, String>(0)));
            rows.len() == 2 && sync.is_some()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        sync.expect("a synchronous standby")
    }

    /// After `new` was promoted: the old primary (stopped) rejoins it (`rewind` after a kill),
    /// the third standby streams from it, and it gets its synchronous rule.
    fn rejoin(&mut self, new: usize, rewind: bool) {
        // pg_rewind reads the source's timeline from its latest checkpoint: the promoted one's
        // must be on its new timeline (a promotion only requests it).
        let mut primary = self.servers[new].connect().unwrap_or_else(|e| panic!("{e}"));
        primary.batch_execute("CHECKPOINT").expect("checkpoints the new primary");
        let old = std::mem::replace(&mut self.primary, new);
        if rewind {
            self.site.rewind(&self.servers[old], &self.servers[new]).unwrap_or_else(|e| panic!("{e}"));
        } else {
            self.servers[old].follow(&self.servers[new]).unwrap_or_else(|e| panic!("{e}"));
        }
        self.servers[old].start().unwrap_or_else(|e| panic!("{e}"));
        let third = (0..NODES.len()).find(|i| *i != old && *i != new).expect("three nodes");
        if rewind {
            // After a kill the asynchronous standby may have received WAL the new primary
            // never had: it is rewound too ("no rewind required" when it was not).
            self.servers[third].stop().unwrap_or_else(|e| panic!("{e}"));
            self.site.rewind(&self.servers[third], &self.servers[new]).unwrap_or_else(|e| panic!("{e}"));
            self.servers[third].start().unwrap_or_else(|e| panic!("{e}"));
        } else {
            self.servers[third].follow(&self.servers[new]).unwrap_or_else(|e| panic!("{e}"));
            let mut client = self.servers[third].connect().unwrap_or_else(|e| panic!("{e}"));
            client.batch_execute("SELECT pg_reload_conf()").expect("reloads");
        }
        self.make_synchronous();
    }

    /// One floor switchover: pg_ctl stop -m fast, the checkpoint received, pg_promote, first write.
    fn switchover(&mut self, rounds: &mut Rounds) -> Duration {
        let sync = self.make_synchronous();
        let old = self.primary;
        let mut standby = self.servers[sync].connect().unwrap_or_else(|e| panic!("{e}"));
        let data = self.servers[old].data_dir().to_owned();
        let control =
            ServerControl::new(&self.bindir, &data, Path::new("/dev/null")).unwrap_or_else(|e| panic!("{e}"));
        let since = Instant::now();
        let writer = Writer::start(self.configs(), next_ids());
        writer.wait_acked(old, WARM, since);
        let started = Instant::now();
        pg_ctl_stop_fast(&self.bindir, &data);
        let stopped = Instant::now();
        let checkpoint = control.last_checkpoint().unwrap_or_else(|e| panic!("{e}"));
        assert!(checkpoint.clean, "pg_ctl stop -m fast did not shut down cleanly");
        let deadline = Instant::now() + LIMIT;
        loop {
            let flushed: Option<PgLsn> =
                standby.query_one("SELECT pg_last_wal_receive_lsn()", &[]).expect("reads").get(0);
            if flushed.is_some_and(|at| u64::from(at) > checkpoint.lsn.get()) {
                break;
            }
            assert!(Instant::now() < deadline, "the standby did not receive the shutdown checkpoint");
            std::thread::sleep(Duration::from_millis(1));
        }
        let received = Instant::now();
        let promoted: bool =
            standby.query_one("SELECT pg_promote(wait => true)", &[]).expect("promotes").get(0);
        assert!(promoted, "pg_promote did not finish");
        let promote_returned = Instant::now();
        writer.wait_acked(sync, 1, started);
        let acks = writer.finish();
        let (last_old, first_new) = handover(&acks, old, sync);
        let outage = first_new - last_old;
        let breakdown = format!(
            "pg_ctl stop {:.1} ms, checkpoint received {:.1} ms later, pg_promote {:.1} ms, first write {:+.1} ms after it returned",
            ms(stopped - started),
            ms(received - stopped),
            ms(promote_returned - received),
            (first_new.duration_since(started).as_secs_f64()
                - promote_returned.duration_since(started).as_secs_f64())
                * 1e3
        );
        rounds.push(outage, breakdown);
        self.servers[old].is_running(); // reaps the postmaster pg_ctl stopped
        self.rejoin(sync, false);
        outage
    }

    /// One floor failover: the primary killed, then pg_promote on the synchronous standby;
    /// from pg_promote's start to the first write.
    fn failover(&mut self, rounds: &mut Rounds) -> Duration {
        let sync = self.make_synchronous();
        let old = self.primary;
        let mut standby = self.servers[sync].connect().unwrap_or_else(|e| panic!("{e}"));
        let since = Instant::now();
        let writer = Writer::start(self.configs(), next_ids());
        writer.wait_acked(old, WARM, since);
        self.servers[old].kill().unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        let promoted: bool =
            standby.query_one("SELECT pg_promote(wait => true)", &[]).expect("promotes").get(0);
        assert!(promoted, "pg_promote did not finish");
        let promote_returned = Instant::now();
        let first_new = writer.wait_acked(sync, 1, started);
        drop(writer.finish());
        let outage = first_new - started;
        let breakdown = format!(
            "pg_promote {:.1} ms, first write {:+.1} ms after it returned",
            ms(promote_returned - started),
            ms(outage) - ms(promote_returned - started)
        );
        rounds.push(outage, breakdown);
        self.rejoin(sync, true);
        outage
    }
}

// ---------------------------------------------------------------------------------------------
// The deployment: one agent per server, the tool as processes.

/// Starts `agent` with `--interval-ms` replaced by `interval` (the deployment passes 50).
const WITH_INTERVAL: &str = r#"agent=$1; interval=$2; shift 2
n=$#; swap=
for a in "$@"; do
  if [ -n "$swap" ]; then a=$interval; swap=; elif [ "$a" = --interval-ms ]; then swap=1; fi
  set -- "$@" "$a"
done
shift "$n"
exec "$agent" "$@""#;

struct Rig {
    deployment: Deployment,
    dir: tempfile::TempDir,
    primary: usize,
    epoch: u64,
    interval: u64,
}

impl Rig {
    fn start(interval: u64) -> Rig {
        let dir =
            tempfile::Builder::new().prefix("aerodb-outage-agents-").tempdir().expect("temporary directory");
        let store = vec!["--data-dir".into(), dir.path().join("authority").into_os_string()];
        let agent = env!("CARGO_BIN_EXE_aerodb-pg-agent");
        let launcher = Launcher::new(
            || {
                let mut tool = Command::new(env!("CARGO_BIN_EXE_aerodb-promote"));
                tool.env("RUST_LOG", "off");
                tool
            },
            move || {
                let mut sh = Command::new("sh");
                sh.args(["-c", WITH_INTERVAL, "aerodb-pg-agent", agent, &interval.to_string()]);
                sh
            },
        );
        let deployment = Deployment::start_with(
            dir.path(),
            &NODES,
            store,
            launcher,
            600,
            vec!["--synchronous".into(), RULE.into()],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let rig = Rig { deployment, dir, primary: 0, epoch: 1, interval };
        // The agents run with the interval asked for.
        for node in NODES {
            let pid = rig.deployment.agent_pid(node).expect("the agent runs");
            let deadline = Instant::now() + LIMIT;
            loop {
                let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let args: Vec<&[u8]> = args.split(|b| *b == 0).collect();
                if args
                    .windows(2)
                    .any(|w| w[0] == b"--interval-ms" && w[1] == interval.to_string().as_bytes())
                {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{node}'s agent does not run with --interval-ms {interval}"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        rig
    }

    fn configs(&self) -> Vec<postgres::Config> {
        NODES.iter().map(|n| config(self.deployment.port(n).expect("a node of the deployment"))).collect()
    }

    /// Waits until the primary leads at its epoch with both standbys streaming, one synchronous;
    /// the synchronous one.
    fn steady(&self) -> usize {
        let primary = NODES[self.primary];
        let mut sync = None;
        deployment::wait_for(
            &format!("{primary} to lead at epoch {} with a synchronous standby", self.epoch),
            || {
                let leads = self
                    .deployment
                    .state(primary)
                    .is_some_and(|s| !s.in_recovery && u64::from(s.timeline) == self.epoch);
                let streaming = self.deployment.streaming(primary);
                sync = streaming
                    .iter()
                    .find(|(_, s)| s == "sync")
                    .and_then(|(n, _)| NODES.iter().position(|m| m == n));
                leads && streaming.len() == 2 && sync.is_some()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        sync.expect("a synchronous standby")
    }

    /// `aerodb-promote STORE ARGS`, which must succeed, its agents' lines stamped while it runs
    /// (bounded); what it printed on stdout.
    fn tool(&self, args: &[&str], timeline: &mut Timeline) -> Vec<u8> {
        let out = self.dir.path().join("tool.out");
        let err = self.dir.path().join("tool.err");
        let file = |path: &Path| std::fs::File::create(path).expect("creates the tool's output file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_aerodb-promote"))
            .env("RUST_LOG", "off")
            .arg("--data-dir")
            .arg(self.dir.path().join("authority"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(file(&out))
            .stderr(file(&err))
            .spawn()
            .expect("starts aerodb-promote");
        let deadline = Instant::now() + LIMIT;
        let status = loop {
            timeline.poll(&self.deployment);
            if let Some(status) = child.try_wait().expect("waits for aerodb-promote") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("aerodb-promote {args:?} did not finish within {LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let stdout = std::fs::read(&out).unwrap_or_default();
        assert!(
            status.success(),
            "aerodb-promote {args:?}: {status}\n{}{}",
            String::from_utf8_lossy(&stdout),
            std::fs::read_to_string(&err).unwrap_or_default()
        );
        stdout
    }

    /// Waits (bounded) for the writer's first acknowledgement by `node` since `since`, the
    /// agents' lines stamped meanwhile.
    fn first_write(&self, writer: &Writer, node: usize, since: Instant, timeline: &mut Timeline) -> Instant {
        let deadline = Instant::now() + LIMIT;
        loop {
            timeline.poll(&self.deployment);
            if let Some((at, _)) = writer.acks().into_iter().find(|(t, n)| *n == node && *t >= since) {
                return at;
            }
            assert!(Instant::now() < deadline, "{} acknowledged no write within {LIMIT:?}", NODES[node]);
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn switchover(&mut self, rounds: &mut Rounds) -> Duration {
        let candidate = self.steady();
        let old = self.primary;
        let cluster = self.deployment.cluster_file();
        let cluster = cluster.to_str().expect("a UTF-8 path");
        let since = Instant::now();
        let writer = Writer::start(self.configs(), next_ids());
        writer.wait_acked(old, WARM, since);
        let started = Instant::now();
        let mut timeline = Timeline::new(&self.deployment, started);
        let args =
            ["switchover", NODES[candidate], "--cluster", cluster, "--wait", "60", "--reason", "benchmark"];
        self.tool(&args, &mut timeline);
        let returned = Instant::now();
        self.first_write(&writer, candidate, started, &mut timeline);
        let acks = writer.finish();
        let (last_old, first_new) = handover(&acks, old, candidate);
        let outage = first_new - last_old;
        let breakdown = format!(
            "interval {} ms; the last write to {} {:.1} ms after the command started; the command took {:.1} ms; first write {:.1} ms after it returned; {}",
            self.interval,
            NODES[old],
            ms(last_old.saturating_duration_since(started)),
            ms(returned - started),
            ms(first_new.saturating_duration_since(returned)),
            timeline.render(first_new)
        );
        rounds.push(outage, breakdown);
        self.primary = candidate;
        self.epoch += 1;
        self.steady();
        outage
    }

    fn failover(&mut self, rounds: &mut Rounds) -> Duration {
        let candidate = self.steady();
        let old = self.primary;
        let cluster = self.deployment.cluster_file();
        let cluster = cluster.to_str().expect("a UTF-8 path").to_owned();
        let since = Instant::now();
        let writer = Writer::start(self.configs(), next_ids());
        writer.wait_acked(old, WARM, since);
        self.deployment.kill_agent(NODES[old]);
        self.deployment.kill_server(NODES[old]).unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        let mut timeline = Timeline::new(&self.deployment, started);
        let observed = self.tool(&["observe", "--cluster", &cluster], &mut timeline);
        let file = self.dir.path().join(format!("observed-{}.json", self.epoch));
        std::fs::write(&file, observed).expect("writes the observation");
        let after_observe = Instant::now();
        let file = file.to_str().expect("a UTF-8 path");
        let reason = "benchmark failover";
        self.tool(
            &["promote", NODES[candidate], "--observed", file, "--force", "--reason", reason],
            &mut timeline,
        );
        let returned = Instant::now();
        let first_new = self.first_write(&writer, candidate, started, &mut timeline);
        drop(writer.finish());
        let outage = first_new - started;
        let breakdown = format!(
            "interval {} ms; observe {:.1} ms, promote {:.1} ms, first write {:.1} ms after it returned; {}",
            self.interval,
            ms(after_observe - started),
            ms(returned - after_observe),
            ms(first_new.saturating_duration_since(returned)),
            timeline.render(first_new)
        );
        rounds.push(outage, breakdown);
        self.primary = candidate;
        self.epoch += 1;
        self.deployment.start_agent(NODES[old], None).unwrap_or_else(|e| panic!("{e}"));
        self.steady();
        outage
    }
}

/// The agents' printed steps during a round, stamped when this process read them (within
/// about a millisecond of their printing).
struct Timeline {
    started: Instant,
    seen: Vec<usize>,
    lines: Vec<(Instant, usize, String)>,
}

impl Timeline {
    fn new(deployment: &Deployment, started: Instant) -> Timeline {
        let seen = NODES.iter().map(|n| deployment.printed(n).len()).collect();
        Timeline { started, seen, lines: Vec::new() }
    }

    fn poll(&mut self, deployment: &Deployment) {
        let now = Instant::now();
        for (i, node) in NODES.iter().enumerate() {
            let printed = deployment.printed(node);
            // A restarted agent prints from nothing again.
            let from = if printed.len() < self.seen[i] { 0 } else { self.seen[i] };
            for line in &printed[from..] {
                self.lines.push((now, i, line.clone()));
            }
            self.seen[i] = printed.len();
        }
    }

    /// Each line as `+ms node: step`, up to `until`.
    fn render(&self, until: Instant) -> String {
        let lines: Vec<String> = self
            .lines
            .iter()
            .filter(|(t, _, _)| *t <= until)
            .map(|(t, n, line)| {
                let line = line.strip_prefix("step: ").unwrap_or(line);
                let short: String = line.chars().take(60).collect();
                format!("+{:.0} {}: {short}", ms(*t - self.started), NODES[*n])
            })
            .collect();
        format!("agents (ms after the command started): [{}]", lines.join("; "))
    }
}

// ---------------------------------------------------------------------------------------------

fn outage(c: &mut Criterion) {
    let programs = match Programs::locate() {
        Ok(programs) => programs,
        Err(error) => {
            eprintln!("outage: cannot run, nothing measured: {error}");
            return;
        }
    };
    harness::stop_all_on_signals().unwrap_or_else(|e| panic!("{e}"));
    let mut summaries = Vec::new();
    // One iteration is one round (seconds); criterion's warm-up is one round.
    let configure = |group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>| {
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_millis(1))
            .measurement_time(Duration::from_millis(1));
    };

    {
        let mut bare = Bare::start(programs);
        let mut group = c.benchmark_group("switchover outage");
        configure(&mut group);
        let mut rounds = Rounds::new("switchover floor");
        group.bench_function(
            "floor: pg_ctl stop -m fast, checkpoint received, pg_promote(wait), first write",
            |b| b.iter_custom(|iters| (0..iters).map(|_| bare.switchover(&mut rounds)).sum()),
        );
        group.finish();
        summaries.push(rounds.summary());
        let mut group = c.benchmark_group("failover outage");
        configure(&mut group);
        let mut rounds = Rounds::new("failover floor");
        group.bench_function("floor: pg_promote(wait) after a kill, first write", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| bare.failover(&mut rounds)).sum())
        });
        group.finish();
        summaries.push(rounds.summary());
    }

    for interval in [50, 10] {
        let mut rig = Rig::start(interval);
        let mut group = c.benchmark_group("switchover outage");
        configure(&mut group);
        let mut rounds = Rounds::new(&format!("aerodb-promote switchover, agents --interval-ms {interval}"));
        group.bench_function(format!("aerodb-promote switchover, agents --interval-ms {interval}"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| rig.switchover(&mut rounds)).sum())
        });
        group.finish();
        summaries.push(rounds.summary());
        let mut group = c.benchmark_group("failover outage");
        configure(&mut group);
        let mut rounds = Rounds::new(&format!("observe + promote --force, agents --interval-ms {interval}"));
        group.bench_function(format!("observe + promote, agents --interval-ms {interval}"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| rig.failover(&mut rounds)).sum())
        });
        group.finish();
        summaries.push(rounds.summary());
    }

    eprintln!("\noutage summary (the warm-up round left out):");
    for summary in summaries {
        eprintln!("  {summary}");
    }
}

criterion_group!(benches, outage);
criterion_main!(benches);
