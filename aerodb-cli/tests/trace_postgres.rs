//! Trace validation of a real PostgreSQL failover sequence (docs/PROTOCOL.md §11): the
//! controller is `aerodb-promote` processes run by a [`Deployment`] (one agent process per
//! server, nothing in-process), each with `RUST_LOG=aerodb::promotion=info`; the events each
//! writes to stderr are read by the model's [`parse_log`], tagged with a controller, and the whole
//! log is replayed through the model, which must allow every step. Doctored copies (a commit's
//! epoch changed, a second commit of one epoch by the other controller, a commit naming the
//! node that was down, the denied attempt turned into a commit) must be refused at the doctored
//! step.
//!
//! Each round: the asynchronous standby pg3 is cut off (its agent stopped, its WAL receiver
//! off) and the primary commits rows its synchronous standby acknowledges; the primary's host
//! dies (agent and server killed); `observe`; pg3, behind, is denied by a dry run and by a real
//! attempt; the synchronous standby is promoted on the operator's statement (`--force
//! --reason`); the old primary rejoins with its agent and becomes the synchronous standby.
//!
//! The model's controllers remember nothing but whether they await an answer, so a tool process
//! that exits is a controller back at rest, and successive processes may be one model
//! controller: a round's promotion is controller `round % 2`, its denied attempt the other's.
//! The model has no client writes here (the log carries none): acknowledged positions are the
//! real validator's to check in the run, which denies pg3 every round.
//!
//! Ignored by `cargo test --workspace` (it needs Debian's `postgresql`); `.ci/run` runs it:
//!
//! ```sh
//! cargo test -p aerodb-cli --test trace_postgres -- --ignored
//! ```

use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::time::Instant;

use aerodb_model::trace::{Event, Forbidden, Step, parse_log, steps_of, validate};
use aerodb_model::{Config, ProtocolModel};
use aerodb_postgres::deployment::{self, Deployment, Launcher};
use aerodb_promotion::event_names as names;
use aerodb_promotion::file_store::read_record;
use postgres::NoTls;

/// The nodes, in the model's order: pg1 is `n0`, pg2 `n1`, pg3 `n2`.
const NODES: [&str; 3] = ["pg1", "pg2", "pg3"];

/// Failover rounds: each one promotion, so one epoch and one node crash of the model.
const ROUNDS: usize = 4;

/// Wide enough for the run: a promotion per round, its old primary down for it.
const TRACED: Config = Config {
    controllers: 2,
    nodes: 3,
    max_epoch: ROUNDS as u64 + 1,
    max_writes: 0,
    node_crashes: ROUNDS as u8,
    controller_crashes: 1,
    message_loss: true,
    mutant: None,
    blocked_reads_as_fenced: false,
};

/// How many environment steps may separate two logged steps.
const DEPTH: usize = 2;

/// Rows each round commits while pg3 is cut off.
const ROWS: i64 = 20;

fn wait_for(what: &str, done: impl FnMut() -> bool) {
    deployment::wait_for(what, done).unwrap_or_else(|e| panic!("{e}"));
}

/// The deployment and the events its tool processes emitted; on a failure, what every agent
/// printed and the events so far.
struct Recording {
    rig: Deployment,
    log: Vec<Event>,
}

impl Drop for Recording {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for node in NODES {
                eprintln!("--- {node}'s agent printed:\n{}", self.rig.printed(node).join("\n"));
            }
            eprintln!("--- events so far:\n{:#?}", self.log);
        }
    }
}

impl Recording {
    /// `aerodb-promote ARGS` as controller `ctl`: its events appended to the log.
    fn tool(&mut self, ctl: u8, args: &[&str]) -> Output {
        let out = self.rig.tool(args).unwrap_or_else(|e| panic!("{e}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let events = parse_log(&stderr, ctl, &NODES).unwrap_or_else(|e| panic!("{args:?}: {e}\n{stderr}"));
        self.log.extend(events);
        out
    }
}

/// Cuts `node` off: its agent stopped, its WAL receiver off, confirmed.
fn cut_off(rig: &mut Deployment, node: &str) {
    rig.kill_agent(node);
    let mut standby = rig.config(node).connect(NoTls).unwrap();
    standby.batch_execute("ALTER SYSTEM SET primary_conninfo = ''").unwrap();
    standby.batch_execute("SELECT pg_reload_conf()").unwrap();
    wait_for(&format!("{node}'s WAL receiver to stop"), || rig.state(node).is_some_and(|s| !s.receiving));
}

/// The recorded run's events, in the order the tool processes ran. Every acknowledged row is
/// checked on each new primary.
fn recorded(dir: &std::path::Path) -> Vec<Event> {
    let store = vec!["--data-dir".into(), dir.join("authority").into_os_string()];
    let launcher = Launcher::new(
        || {
            let mut tool = Command::new(env!("CARGO_BIN_EXE_aerodb-promote"));
            tool.env("RUST_LOG", "aerodb::promotion=info");
            tool
        },
        || Command::new(env!("CARGO_BIN_EXE_aerodb-pg-agent")),
    );
    let rig = Deployment::start(dir, &NODES, store, launcher, 600).unwrap_or_else(|e| panic!("{e}"));
    let mut run = Recording { rig, log: Vec::new() };
    let (mut primary, mut sync, other) = ("pg1", "pg2", "pg3");
    wait_for("pg1 to lead with pg2 synchronous and pg3 asynchronous", || {
        run.rig.streaming("pg1") == [("pg2".into(), "sync".into()), ("pg3".into(), "async".into())]
    });
    let mut acknowledged: Vec<i64> = Vec::new();
    for round in 0..ROUNDS {
        let epoch = round as u64 + 1;
        let (ctl, rival) = ((round % 2) as u8, ((round + 1) % 2) as u8);
        // 1. pg3 cut off; rows committed, each acknowledged by the synchronous standby; the
        // primary's host dies.
        cut_off(&mut run.rig, other);
        let mut client = run.rig.config(primary).connect(NoTls).unwrap();
        for i in 0..ROWS {
            let id = round as i64 * 1_000 + i;
            client.execute("INSERT INTO acked VALUES ($1)", &[&id]).unwrap();
            acknowledged.push(id);
        }
        drop(client);
        run.rig.kill_agent(primary);
        run.rig.kill_server(primary).unwrap();
        // 2. Observe; pg3 is behind what was acknowledged.
        let cluster = run.rig.cluster_file();
        let out =
            run.tool(ctl, &["observe", "--cluster", cluster.to_str().unwrap(), "--acknowledged-by", sync]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round} observe: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let observation = dir.join(format!("observed-{round}.json"));
        std::fs::write(&observation, &out.stdout).unwrap();
        let observation = observation.to_str().unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let position = |v: &serde_json::Value| (v["epoch"].as_u64().unwrap(), v["lsn"].as_u64().unwrap());
        let at = parsed["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == other)
            .map(|n| position(&n["position"]));
        assert!(
            at.is_some_and(|at| at < position(&parsed["acknowledged"])),
            "round {round}: {other} not behind: {parsed}"
        );
        // 3. pg3 denied: a dry run (no events), then a real attempt by the other controller.
        let lost = ["--force", "--reason", "primary host lost"];
        let dry = run
            .tool(rival, &[&["promote", other, "--observed", observation, "--dry-run"][..], &lost].concat());
        assert_eq!(dry.status.code(), Some(4), "round {round}: {other} behind but not denied by the dry run");
        let denied = run.tool(rival, &[&["promote", other, "--observed", observation][..], &lost].concat());
        assert_eq!(
            denied.status.code(),
            Some(4),
            "round {round}: {other} behind but not denied:\n{}",
            String::from_utf8_lossy(&denied.stdout)
        );
        run.rig.start_agent(other, None).unwrap();
        // 4. The synchronous standby promoted on the operator's statement.
        let promoted = run.tool(ctl, &[&["promote", sync, "--observed", observation][..], &lost].concat());
        assert_eq!(
            promoted.status.code(),
            Some(0),
            "round {round}: {sync} was not promoted:\n{}{}",
            String::from_utf8_lossy(&promoted.stdout),
            String::from_utf8_lossy(&promoted.stderr)
        );
        let record = read_record(dir.join("authority")).unwrap().unwrap();
        assert_eq!((record.epoch().get(), record.primary().as_str()), (epoch + 1, sync));
        wait_for(&format!("{sync} to lead at timeline {}", epoch + 1), || {
            run.rig.state(sync).is_some_and(|s| !s.in_recovery && u64::from(s.timeline) == epoch + 1)
        });
        // 5. The old primary rejoins with its agent and becomes the synchronous standby.
        let old = primary;
        run.rig.start_agent(old, None).unwrap();
        wait_for(&format!("{old} and {other} to stream from {sync}"), || {
            let names: Vec<String> = run.rig.streaming(sync).into_iter().map(|(n, _)| n).collect();
            names.contains(&old.to_owned()) && names.contains(&other.to_owned())
        });
        assert!(run.rig.state(old).unwrap().in_recovery, "round {round}: {old} came back writable");
        let mut client = run.rig.config(sync).connect(NoTls).unwrap();
        let rows: BTreeSet<i64> =
            client.query("SELECT id FROM acked", &[]).unwrap().iter().map(|r| r.get(0)).collect();
        let missing: Vec<&i64> = acknowledged.iter().filter(|id| !rows.contains(id)).collect();
        assert!(missing.is_empty(), "round {round}: acknowledged rows lost: {missing:?}");
        let names = format!("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 ({old})'");
        client.batch_execute(&names).unwrap();
        client.batch_execute("SELECT pg_reload_conf()").unwrap();
        wait_for(&format!("{old} synchronous"), || {
            run.rig.streaming(sync).iter().any(|(n, s)| n == old && s == "sync")
        });
        println!(
            "round {round}: {primary} -> {sync} at epoch {}, {other} denied, {ROWS} rows, 0 lost",
            epoch + 1
        );
        (primary, sync) = (sync, old);
    }
    std::mem::take(&mut run.log)
}

/// The steps the run must give: round r promotes pg2, pg1, pg2, … (`n1`, `n0`, …) at epoch
/// r + 2 by controller r % 2; the denied attempts are no step.
fn expected() -> Vec<Step> {
    (0..ROUNDS)
        .flat_map(|round| {
            let (ctl, candidate, epoch) = ((round % 2) as u8, ((round + 1) % 2) as u8, round as u64 + 2);
            [
                Step::Started { ctl, candidate, new_epoch: epoch },
                Step::Committed { ctl, epoch, primary: candidate },
            ]
        })
        .collect()
}

/// The index of the `nth` event named `name`.
fn nth(events: &[Event], name: &str, nth: usize) -> usize {
    events.iter().enumerate().filter(|(_, e)| e.name == name).nth(nth).map(|(i, _)| i).unwrap()
}

#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn a_real_postgresql_failover_is_a_path_of_the_model() {
    let dir = tempfile::Builder::new().prefix("aerodb-trace-pg-").tempdir().unwrap();
    let started = Instant::now();
    let events = recorded(dir.path());
    let recorded_in = started.elapsed();
    let steps = steps_of(&events).unwrap();
    assert_eq!(steps, expected(), "{events:#?}");
    // Every round's real attempt of pg3 was logged, and denied.
    let denials = events.iter().filter(|e| e.name == names::VALIDATION_FAILED).collect::<Vec<_>>();
    assert_eq!(denials.len(), ROUNDS, "{events:#?}");
    assert!(denials.iter().all(|e| e.fields.get("requested_replica_id").map(String::as_str) == Some("n2")));
    let model = ProtocolModel::new(TRACED);
    let started = Instant::now();
    let states = validate(&model, &steps, DEPTH).unwrap_or_else(|f| panic!("{f:?}\n{events:#?}"));
    println!(
        "PostgreSQL run: {ROUNDS} failovers, {} events, {} steps, {states} states at the end; recorded in \
         {recorded_in:?}, replayed in {:?}",
        events.len(),
        steps.len(),
        started.elapsed()
    );

    let refused_at = |doctored: &[Event], index: usize| {
        let steps = steps_of(doctored).unwrap();
        assert_eq!(validate(&model, &steps, DEPTH), Err(Forbidden { index, step: steps[index].clone() }));
    };
    // The second round's commit claims epoch 4: the store held 2, the attempt read 2.
    let mut epoch = events.clone();
    let second = nth(&epoch, names::TRANSITION_COMPLETED, 1);
    epoch[second].fields.insert("epoch".to_owned(), "4".to_owned());
    refused_at(&epoch, 3);
    // A second commit of epoch 2, by the other controller, which sent none.
    let mut twice = events.clone();
    let first = nth(&twice, names::TRANSITION_COMPLETED, 0);
    let copy = Event { ctl: 1, ..twice[first].clone() };
    twice.insert(first + 1, copy);
    refused_at(&twice, 2);
    // The first commit names pg1, whose host had died, and which no controller asked for.
    let mut down = events.clone();
    down[first].fields.insert("new_primary_id".to_owned(), "n0".to_owned());
    refused_at(&down, 1);
    // The denied attempt of pg3 doctored into a commit it never sent: no controller awaits it.
    let mut unsent = events;
    let denial = nth(&unsent, names::VALIDATION_FAILED, 0);
    unsent[denial].name = names::TRANSITION_COMPLETED.to_owned();
    unsent[denial]
        .fields
        .extend([("epoch".to_owned(), "2".to_owned()), ("new_primary_id".to_owned(), "n2".to_owned())]);
    refused_at(&unsent, 0);
}
