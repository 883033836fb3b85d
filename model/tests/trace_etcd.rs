//! Trace validation with the authority in a real 3-member etcd (Debian's `etcd-server`) and
//! the controllers as real processes (this test binary, run as `controller_process`; etcd
//! allows one handle per key per process). Two controllers race twice (one commits, the other's
//! commit is refused as a conflict); then a commit sent to a leader whose followers are paused
//! (SIGSTOP) loses its answer, its controller is killed (SIGKILL) and restarted, and goes on
//! from whatever etcd decided; last, a controller is killed between its transition's start and
//! its commit, and restarts. The parent drives the steps one at a time over the children's
//! stdin, so the interleaving is fixed, and collects the events each child emitted. The log is
//! replayed through the model; doctored copies must be refused. Ignored by `cargo test`;
//! `.ci/run` runs it:
//!
//! ```sh
//! cargo test -p aerodb-model --test trace_etcd -- --ignored
//! ```

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Lines, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use aerodb_core::NodeId;
use aerodb_etcd::harness::Cluster;
use aerodb_etcd::{Connection, EtcdAuthorityStore};
use aerodb_model::trace::{Event, Forbidden, Step, steps_of, validate};
use aerodb_model::{Config, ProtocolModel};
use aerodb_promotion::testing::events::Capture;
use aerodb_promotion::{
    AuthorityRecord, AuthorityStore, AuthorityTransitioning, Promotion, PromotionApproved, PromotionSlot,
    Proposal, StoreError, recover,
};
use common::{Commit, Result, approve, commit};

/// Wide enough for the run: seven promotions (a node crash each), a lost answer and a kill.
const TRACED: Config = Config {
    controllers: 2,
    nodes: 3,
    max_epoch: 8,
    max_writes: 0,
    node_crashes: 7,
    controller_crashes: 2,
    message_loss: true,
    mutant: None,
    blocked_reads_as_fenced: false,
};

/// How many environment steps may separate two logged steps.
const DEPTH: usize = 2;

const KEY: &str = "/aerodb/trace/authority";
/// Set in a controller process: its endpoints.
const ENDPOINTS_VAR: &str = "AERODB_TRACE_ENDPOINTS";

/// The etcd store with the given members paused (`kill -STOP`) between the commit edge's read
/// and the transaction: the transaction reaches a leader that has lost its quorum.
struct PausedBeforeCommit<'a> {
    store: &'a mut EtcdAuthorityStore,
    pids: Vec<String>,
}

impl AuthorityStore for PausedBeforeCommit<'_> {
    fn load(&self) -> std::result::Result<Option<AuthorityRecord>, StoreError> {
        self.store.load()
    }
    fn commit(&mut self, proposal: &Proposal) -> std::result::Result<(), StoreError> {
        for pid in &self.pids {
            let paused = Command::new("kill").args(["-STOP", pid]).status();
            if !paused.is_ok_and(|s| s.success()) {
                return Err(StoreError::Backend { operation: "pause", detail: format!("kill -STOP {pid}") });
            }
        }
        self.store.commit(proposal)
    }
    fn slot(&self) -> &PromotionSlot {
        self.store.slot()
    }
    fn load_report(&self) -> std::result::Result<Option<aerodb_promotion::PrimaryReport>, StoreError> {
        self.store.load_report()
    }
    fn swap_report(
        &mut self,
        expected: Option<&aerodb_promotion::PrimaryReport>,
        report: &aerodb_promotion::PrimaryReport,
    ) -> std::result::Result<(), StoreError> {
        self.store.swap_report(expected, report)
    }
}

/// One command of the parent to a controller process; its answer.
fn serve(
    line: &str,
    endpoints: &str,
    store: &mut Option<EtcdAuthorityStore>,
    held: &mut Option<Promotion<PromotionApproved>>,
    begun: &mut Vec<Promotion<AuthorityTransitioning>>,
) -> Result<String> {
    let (command, argument) = line.split_once(' ').unwrap_or((line, ""));
    let handle = |store: &mut Option<EtcdAuthorityStore>| store.take().ok_or("not open");
    let done = |c: Commit| format!("{c:?}");
    Ok(match command {
        // `open [ENDPOINT]`: all endpoints, or one member's only.
        "open" => {
            let list = if argument.is_empty() { endpoints } else { argument };
            let connection = Connection::new(list.split(',').map(str::to_owned).collect())
                .with_timeout(Duration::from_secs(3));
            // Retried while a cluster just resumed elects a leader, as an operator would.
            let deadline = Instant::now() + Duration::from_secs(30);
            *store = Some(loop {
                match EtcdAuthorityStore::open(&connection, KEY) {
                    Ok(opened) => break opened,
                    Err(error) if Instant::now() >= deadline => return Err(error.into()),
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            });
            "open".to_owned()
        }
        "bootstrap" => {
            let mut s = handle(store)?;
            let record = s.bootstrap(NodeId::new(argument)?);
            *store = Some(s);
            format!("epoch {}", record?.epoch())
        }
        "epoch" => {
            let s = handle(store)?;
            let epoch = recover(&s)?.authority.map(|r| r.epoch().get());
            *store = Some(s);
            format!("{epoch:?}")
        }
        "approve" => {
            let s = handle(store)?;
            let approved = approve(&s, argument);
            *store = Some(s);
            *held = Some(approved?.1);
            "approved".to_owned()
        }
        "commit" => {
            let mut s = handle(store)?;
            let out = commit(&mut s, held.take().ok_or("nothing approved")?.begin_transition());
            *store = Some(s);
            done(out)
        }
        // `commit-paused PID,PID`: the commit with those members paused before its transaction.
        "commit-paused" => {
            let mut s = handle(store)?;
            let transitioning = held.take().ok_or("nothing approved")?.begin_transition();
            let pids = argument.split(',').map(str::to_owned).collect();
            let out = commit(&mut PausedBeforeCommit { store: &mut s, pids }, transitioning);
            *store = Some(s);
            done(out)
        }
        // `begin`: the transition starts and the process is killed before it commits.
        "begin" => {
            begun.push(held.take().ok_or("nothing approved")?.begin_transition());
            "begun".to_owned()
        }
        "promote" => {
            let mut s = handle(store)?;
            let out = approve(&s, argument).map(|(_, approved)| commit(&mut s, approved.begin_transition()));
            *store = Some(s);
            done(out?)
        }
        _ => return Err(format!("unknown command {line}").into()),
    })
}

/// Not a test: this binary run as a controller process (with [`ENDPOINTS_VAR`] set) reads
/// commands on stdin and answers each with the events it emitted (`@@EV name\tkey=value…`) and
/// `@@OK answer` or `@@ERR error`.
#[test]
#[ignore = "a controller process of a_real_etcd_run_is_a_path_of_the_model"]
fn controller_process() -> Result<()> {
    let Ok(endpoints) = std::env::var(ENDPOINTS_VAR) else { return Ok(()) };
    let capture = Capture::default();
    let (mut store, mut held, mut begun) = (None, None, Vec::new());
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let answer = tracing::subscriber::with_default(capture.clone(), || {
            serve(line.trim(), &endpoints, &mut store, &mut held, &mut begun)
        });
        for event in capture.take() {
            let clean = |s: &str| s.replace(['\t', '\n'], " ");
            let fields: String = event.fields.iter().map(|(k, v)| format!("\t{k}={}", clean(v))).collect();
            writeln!(out, "@@EV {}{fields}", event.name)?;
        }
        match answer {
            Ok(answer) => writeln!(out, "@@OK {answer}")?,
            Err(error) => writeln!(out, "@@ERR {}", error.to_string().replace('\n', " "))?,
        }
        out.flush()?;
    }
    Ok(())
}

/// A controller process, as the parent sees it.
struct Controller {
    ctl: u8,
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Controller {
    fn start(ctl: u8, endpoints: &str) -> Result<Controller> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--ignored", "--exact", "controller_process", "--nocapture", "--test-threads", "1"])
            .env(ENDPOINTS_VAR, endpoints)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
        Ok(Controller { ctl, child, stdin, stdout })
    }

    /// Sends `command`; appends the events it emitted to `log`; its answer.
    fn run(&mut self, command: &str, log: &mut Vec<Event>) -> Result<String> {
        writeln!(self.stdin, "{command}")?;
        self.stdin.flush()?;
        for line in self.stdout.by_ref() {
            let line = line?;
            // libtest may print on the same line before the protocol's `@@`.
            let Some((_, line)) = line.split_once("@@") else { continue };
            if let Some(event) = line.strip_prefix("EV ") {
                let mut parts = event.split('\t');
                let name = parts.next().unwrap_or_default().to_owned();
                let fields: BTreeMap<String, String> = parts
                    .filter_map(|p| p.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                log.push(Event { ctl: self.ctl, name, fields });
            } else if let Some(answer) = line.strip_prefix("OK ") {
                return Ok(answer.to_owned());
            } else if let Some(error) = line.strip_prefix("ERR ") {
                return Err(format!("c{}: {command}: {error}", self.ctl).into());
            }
        }
        Err(format!("c{} exited during {command}", self.ctl).into())
    }

    /// SIGKILL, as a crash.
    fn kill(mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

/// The recorded run and the epoch etcd held after the lost answer.
fn recorded() -> Result<(Vec<Event>, u64)> {
    let dir = tempfile::Builder::new().prefix("aerodb-etcd-").tempdir()?;
    let mut cluster = Cluster::start(dir.path(), 3)?;
    let endpoints = cluster.endpoints().join(",");
    let leader = cluster.leader().ok_or("no leader")?;
    let followers: Vec<usize> = (0..3).filter(|m| *m != leader).collect();
    let pids: Vec<String> = followers
        .iter()
        .map(|m| cluster.pid(*m).map(|p| p.to_string()).ok_or("a member is down"))
        .collect::<std::result::Result<_, _>>()?;
    let mut log = Vec::new();
    let mut c0 = Controller::start(0, &endpoints)?;
    let mut c1 = Controller::start(1, &endpoints)?;
    // c0 talks to the leader only, so that its paused commit reaches it.
    c0.run(&format!("open {}", cluster.endpoints()[leader]), &mut log)?;
    assert_eq!(c0.run("bootstrap n0", &mut log)?, "epoch 1");
    // After the bootstrap: an open settles the key, which a bootstrap sent before it fails on.
    c1.run("open", &mut log)?;

    // Race: both read epoch 1 and approve n1; c0 commits first, c1's commit is refused.
    c0.run("approve n1", &mut log)?;
    c1.run("approve n1", &mut log)?;
    assert_eq!(c0.run("commit", &mut log)?, "Made(2)");
    assert_eq!(c1.run("commit", &mut log)?, "Conflict");
    assert_eq!(c1.run("promote n2", &mut log)?, "Made(3)");
    // Race again, the other way round.
    c1.run("approve n0", &mut log)?;
    c0.run("approve n0", &mut log)?;
    assert_eq!(c0.run("commit", &mut log)?, "Made(4)");
    assert_eq!(c1.run("commit", &mut log)?, "Conflict");

    // A lost answer: the transaction reaches the leader without a quorum.
    c0.run("approve n1", &mut log)?;
    let lost = c0.run(&format!("commit-paused {}", pids.join(",")), &mut log);
    for member in &followers {
        cluster.resume(*member)?;
    }
    cluster.wait_serving()?;
    assert_eq!(lost?, "Unknown");
    // c0 is killed and restarts; its fresh handle settles the lost transaction.
    c0.kill()?;
    let mut c0 = Controller::start(0, &endpoints)?;
    c0.run("open", &mut log)?;
    let held: u64 = match c0.run("epoch", &mut log)?.as_str() {
        "Some(5)" => 5,
        "Some(4)" => 4,
        other => return Err(format!("etcd holds {other}").into()),
    };
    assert_eq!(c0.run("promote n2", &mut log)?, format!("Made({})", held + 1));
    assert_eq!(c1.run("promote n0", &mut log)?, format!("Made({})", held + 2));
    // c1 is killed between its transition's start and its commit, and restarts.
    c1.run("approve n1", &mut log)?;
    c1.run("begin", &mut log)?;
    c1.kill()?;
    let mut c1 = Controller::start(1, &endpoints)?;
    c1.run("open", &mut log)?;
    assert_eq!(c1.run("promote n1", &mut log)?, format!("Made({})", held + 3));
    c0.kill()?;
    c1.kill()?;
    Ok((log, held))
}

/// The steps the run must give, `held` the epoch etcd held after the lost answer.
fn expected(held: u64) -> Vec<Step> {
    vec![
        Step::Started { ctl: 0, candidate: 1, new_epoch: 2 },
        Step::Started { ctl: 1, candidate: 1, new_epoch: 2 },
        Step::Committed { ctl: 0, epoch: 2, primary: 1 },
        Step::Refused { ctl: 1 },
        Step::Started { ctl: 1, candidate: 2, new_epoch: 3 },
        Step::Committed { ctl: 1, epoch: 3, primary: 2 },
        Step::Started { ctl: 1, candidate: 0, new_epoch: 4 },
        Step::Started { ctl: 0, candidate: 0, new_epoch: 4 },
        Step::Committed { ctl: 0, epoch: 4, primary: 0 },
        Step::Refused { ctl: 1 },
        Step::Started { ctl: 0, candidate: 1, new_epoch: 5 },
        Step::Aborted { ctl: 0 },
        Step::Started { ctl: 0, candidate: 2, new_epoch: held + 1 },
        Step::Committed { ctl: 0, epoch: held + 1, primary: 2 },
        Step::Started { ctl: 1, candidate: 0, new_epoch: held + 2 },
        Step::Committed { ctl: 1, epoch: held + 2, primary: 0 },
        Step::Started { ctl: 1, candidate: 1, new_epoch: held + 3 },
        Step::Started { ctl: 1, candidate: 1, new_epoch: held + 3 },
        Step::Committed { ctl: 1, epoch: held + 3, primary: 1 },
    ]
}

#[test]
#[ignore = "needs etcd (Debian's etcd-server); .ci/run runs it"]
fn a_real_etcd_run_is_a_path_of_the_model() -> Result<()> {
    let started = Instant::now();
    let (events, held) = recorded()?;
    let recorded_in = started.elapsed();
    let steps = steps_of(&events)?;
    assert_eq!(steps, expected(held), "{events:#?}");
    let model = ProtocolModel::new(TRACED);
    let started = Instant::now();
    let states = validate(&model, &steps, DEPTH).map_err(|f| format!("{f:?}"))?;
    println!(
        "etcd run: {} events, {} steps, etcd held epoch {held} after the lost answer, {states} states at the end; \
         recorded in {recorded_in:?}, replayed in {:?}",
        events.len(),
        steps.len(),
        started.elapsed()
    );

    // The lost answer's other fate is a path too: the model does not guess what etcd decided.
    let other = expected(if held == 5 { 4 } else { 5 });
    assert!(validate(&model, &other, DEPTH).is_ok());
    // The refused commit claims it was made: epoch 2 was already taken by c0.
    let mut both = steps.clone();
    both[3] = Step::Committed { ctl: 1, epoch: 2, primary: 1 };
    assert_eq!(validate(&model, &both, DEPTH), Err(Forbidden { index: 3, step: both[3].clone() }));
    // A conflict for a commit that had no rival.
    let alone = [steps[0].clone(), Step::Refused { ctl: 0 }];
    assert_eq!(validate(&model, &alone, DEPTH), Err(Forbidden { index: 1, step: alone[1].clone() }));
    // After the lost answer, an attempt that read an epoch etcd never held.
    let mut gone = steps;
    gone[12] = Step::Started { ctl: 0, candidate: 2, new_epoch: 7 };
    assert_eq!(validate(&model, &gone, DEPTH), Err(Forbidden { index: 12, step: gone[12].clone() }));
    Ok(())
}
