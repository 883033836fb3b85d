//! `aerodb-promote`: the operator's tool for AeroDB promotion — bootstrap, inspect, history,
//! dry run and promote — built on the public API of `aerodb-promotion` alone.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::store_args::{Place, PlaceError, StoreArgs, existing};
use aerodb_core::{Epoch, NodeId};
use aerodb_etcd::EtcdAuthorityStore;
use aerodb_promotion::{
    AuthorityRecord, AuthorityStore, CommitFailure, Decision, FileAuthorityStore, Observation, Outcome,
    Promotion, PromotionExplanation, PromotionPolicy, PromotionRequest, Resolution, Steady, StoreError,
    ValidationInputs, assess, recover,
};
use clap::{Parser, Subcommand};

mod switchover;

/// Exit codes, as `--help` documents them.
mod exit {
    /// Approved (and committed unless a dry run); or the command succeeded.
    pub const OK: u8 = 0;
    /// Any other error (I/O, corrupt record, lock held), with its cause.
    pub const OTHER: u8 = 1;
    /// Usage error: bad arguments or a malformed observation file.
    pub const USAGE: u8 = 2;
    /// `inspect` / `history`: the data directory holds no authority record.
    pub const NO_RECORD: u8 = 3;
    /// Denied or rejected; the explanation is printed. `candidates`: no node would be approved.
    pub const REFUSED: u8 = 4;
    /// The authority is not the one expected (`--expect-epoch`), or changed before the commit.
    pub const CONFLICT: u8 = 5;
    /// `stop-primary`, `switchover`: not finished within `--wait`; nothing was committed.
    pub const NOT_STOPPED: u8 = 6;
}

const AFTER_HELP: &str = "\
Exit codes: 0 approved (committed unless --dry-run) or done, or some node would be approved
(candidates); 1 any other error (I/O, corrupt record, lock held, an authority that went back
from what the store held), with its cause; 2 usage error; 3 no authority record (inspect,
history, candidates); 4 denied or rejected, with the explanation, a start-over refused, or no
node would be approved (candidates); 5 the authority is not the one expected (--expect-epoch),
changed before the commit, or is below inspect --at-least: nothing was written or decided;
6 stop-primary, switchover: not finished within --wait (the stop request stands; nothing was
committed; switchover again, or resume-primary).

Evidence: promote reads the primary report kept beside the authority. The bound on what was
acknowledged is the highest of --acknowledged-by's flush (observe), the bound derived from the
synchronous rules the primary's agent recorded (the highest WAL end among the n-k+1 lowest
observed named standbys), and a clean stop's checkpoint; the old primary is stopped when its
agent said so durably (after stop-primary) or when the operator says so with --force --reason.

Notation: a WAL position is epoch/lsn (1/120: LSN 120, written in epoch 1); an epoch history
is [epoch@start, ...] (2@100: epoch 2 began after LSN 100).

The data directory keeps the authority in DIR/metadata/authority.record. The store creates DIR
and DIR/metadata with mode 0700 and its files with 0600, and refuses a metadata directory or
record that group or others may write, or that another user owns (inspect warns instead).

With --etcd ENDPOINTS --key KEY instead, the authority is the same record under KEY in etcd v3
(linearizable reads; commits compare the key's revision). TLS: --etcd-ca, and --etcd-cert with
--etcd-key for a client certificate. Authentication: --etcd-user, the password taken from the
AERODB_ETCD_PASSWORD environment variable (never from the command line); over http://
endpoints only with --etcd-allow-plaintext-password.

Events go to stderr, filtered like RUST_LOG (default: aerodb::promotion=info).";

#[derive(Debug, Parser)]
#[command(name = "aerodb-promote", version, about = "Inspect and change who holds write authority in an AeroDB cluster, safely.", after_help = AFTER_HELP)]
struct Cli {
    /// Where the authority is kept.
    #[command(flatten)]
    store: StoreArgs,
    /// After the command, print the promotion metrics in Prometheus text.
    #[arg(long, global = true)]
    metrics: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write epoch 1 with NODE as the primary; refused if any authority record exists.
    Bootstrap {
        /// The first primary's node id.
        node: String,
    },
    /// Print the authority record (exit 3 if there is none, 1 if it is invalid or went back).
    Inspect {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// An epoch this reader has seen before: a record below it (or none) is refused, exit 5.
        #[arg(long, value_name = "E")]
        at_least: Option<u64>,
    },
    /// After a real loss only: make NODE the primary at epoch ABOVE + 1, its epoch beginning
    /// after LSN START of its WAL, recorded with REASON. ABOVE must be at least every epoch the
    /// store ever held and every epoch any node reports (a data directory or an etcd key).
    StartOver {
        /// The new primary's node id.
        node: String,
        /// Every epoch that ever was is at most this.
        #[arg(long, value_name = "E")]
        above: u64,
        /// The LSN after which the new primary's epoch begins (its WAL end).
        #[arg(long, value_name = "LSN")]
        start: u64,
        /// Why the authority is started over (recorded durably).
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// Print every authority, newest first, with the force and reason that made it.
    History {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Read every PostgreSQL node of the cluster file over SQL (the same code the node agents
    /// use) and print the observation JSON `promote --observed` reads. Standbys are frozen first
    /// (their WAL receivers stopped, confirmed gone) so their positions hold until a decision;
    /// their agents lift the freeze if no promotion follows.
    Observe {
        /// The cluster file: one `NODE CONNINFO` line per node.
        #[arg(long, value_name = "FILE")]
        cluster: PathBuf,
        /// The node that was the synchronous standby for every acknowledged commit (e.g.
        /// `FIRST 1 (NODE)`): its flushed position is the acknowledged bound. Without it the
        /// bound is unknown, which denies.
        #[arg(long, value_name = "NODE")]
        acknowledged_by: Option<String>,
        /// Observe without freezing the standbys (their positions may move after).
        #[arg(long)]
        no_freeze: bool,
    },
    /// Ask the authority's primary to stop for good at its epoch (recorded beside the
    /// authority; it stands until resume-primary): its agent shuts the server down cleanly, or finds it down, and states
    /// durably that it stopped, with its last checkpoint — the evidence a promotion needs when
    /// nobody else can tell the old primary is down. Waits for that statement.
    StopPrimary {
        /// How long to wait for the agent's statement (0: do not wait).
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        wait: u64,
    },
    /// Hand write authority to CANDIDATE while the primary runs, losing nothing: checks first
    /// (the primary runs; CANDIDATE streams from it within --max-lag and passes every check a
    /// promotion would make), then the primary's agent stops it cleanly and states it, CANDIDATE
    /// receives its shutdown checkpoint (the exact acknowledged bound), and an ordinary
    /// promotion commits on that evidence. Each wait is bounded (--wait); on a timeout nothing
    /// is committed and the old primary stays the (stopped) authority: run the command again,
    /// or resume-primary. Killed at any step, running it again finishes or refuses.
    Switchover {
        /// The standby to hand write authority to.
        candidate: String,
        /// The cluster file: one `NODE CONNINFO` line per node.
        #[arg(long, value_name = "FILE")]
        cluster: PathBuf,
        /// How long each wait may take (the stop statement; the candidate's catch-up).
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        wait: u64,
        /// How far the candidate may lag the primary's flushed WAL when it starts, in bytes.
        #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024)]
        max_lag: u64,
        /// Why (recorded durably, after "switchover: ").
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Make the checks only; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the promotion's explanation as JSON.
        #[arg(long)]
        json: bool,
        /// Test hook: after this many steps, wait to be killed.
        #[arg(long, value_name = "N", hide = true)]
        pause_after: Option<u32>,
    },
    /// Withdraw the stop asked of the authority's primary (the request and its agent's
    /// statement together): its agent starts it again at its epoch. A promotion decided on the
    /// statement no longer commits (its evidence changed).
    ResumePrimary,
    /// Decide, and unless --dry-run commit, the promotion of CANDIDATE from what was observed.
    Promote {
        /// The replica to promote.
        candidate: String,
        /// What the control plane observed of the cluster (JSON; `-` for stdin).
        #[arg(long, value_name = "FILE")]
        observed: String,
        /// Decide and explain; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// The operator's statement that an old primary nobody can observe, and whose agent
        /// cannot answer, is down (needs --reason; recorded durably as operator evidence).
        #[arg(long, requires = "reason")]
        force: bool,
        /// Why the operator asks for this promotion (recorded durably).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// The caller's id for this request (recorded durably).
        #[arg(long, value_name = "ID")]
        request_id: Option<String>,
        /// Decide only if the store holds this epoch (the observation was made against it).
        #[arg(long, value_name = "E")]
        expect_epoch: Option<u64>,
        /// Print the explanation as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every node but the recorded primary as a candidate, read-only: its verdict and, for
    /// each refused one, the smallest set of missing evidence that would approve it (flush ≥ X
    /// on a node, the old primary confirmed stopped, a named synchronous standby observed, …)
    /// or what no evidence changes. Reads the record and the primary's report from the store.
    /// Exit 0 if some node would be approved, 4 if none.
    Candidates {
        /// What the control plane observed of the cluster (JSON; `-` for stdin).
        #[arg(long, value_name = "FILE")]
        observed: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// A command that did not succeed: its exit code and what to tell the operator.
struct Failure {
    code: u8,
    message: String,
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure { code, message: message.into() }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        fail(exit::OTHER, error.to_string())
    }
}

/// Runs `aerodb-promote` with the command line `args` (the program's name first).
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version print to stdout and exit 0; usage errors exit 2.
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { exit::USAGE } else { exit::OK });
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("aerodb::promotion=info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_ansi(ansi)
        .without_time()
        .try_init()
        .ok();
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("aerodb-promote: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

impl From<PlaceError> for Failure {
    fn from(error: PlaceError) -> Self {
        match error {
            PlaceError::Usage(message) => fail(exit::USAGE, message),
            other => fail(exit::OTHER, other.to_string()),
        }
    }
}

/// The durable record, read-only (a data directory's permission problems as warnings); none
/// is exit 3.
fn read(place: &Place) -> Result<AuthorityRecord, Failure> {
    place
        .read(|problem| eprintln!("aerodb-promote: warning: {problem}"))?
        .ok_or_else(|| fail(exit::NO_RECORD, format!("no authority record in {place}")))
}

fn run(cli: &Cli) -> Result<u8, Failure> {
    let place = cli.store.place()?;
    match &cli.command {
        Command::Bootstrap { node } => bootstrap(&place, node, cli.metrics),
        Command::Inspect { json, at_least } => inspect(&place, *json, at_least.map(Epoch::new)),
        Command::StartOver { node, above, start, reason } => {
            start_over(&place, node, Epoch::new(*above), aerodb_core::Lsn::new(*start), reason)
        }
        Command::History { json } => history(&place, *json),
        Command::Observe { cluster, acknowledged_by, no_freeze } => {
            observe(&place, cluster, acknowledged_by.as_deref(), !*no_freeze)
        }
        Command::StopPrimary { wait } => stop_primary(&place, std::time::Duration::from_secs(*wait)),
        Command::ResumePrimary => resume_primary(&place),
        Command::Switchover { candidate, cluster, wait, max_lag, reason, dry_run, json, pause_after } => {
            let candidate = NodeId::new(candidate)
                .map_err(|e| fail(exit::USAGE, format!("node id {candidate:?}: {e}")))?;
            let cluster = read_cluster(cluster)?;
            let switchover = switchover::Switchover {
                candidate,
                cluster: &cluster,
                wait: std::time::Duration::from_secs(*wait),
                max_lag: *max_lag,
                reason: reason.clone(),
                dry_run: *dry_run,
                json: *json,
                pause_after: *pause_after,
            };
            switchover::run(&place, &switchover)
        }
        Command::Promote { candidate, observed, dry_run, force, reason, request_id, expect_epoch, json } => {
            let mut builder = PromotionRequest::builder(candidate).force(*force);
            if let Some(reason) = reason {
                builder = builder.reason(reason);
            }
            if let Some(id) = request_id {
                builder = builder.request_id(id);
            }
            let request = builder.build().map_err(|e| fail(exit::USAGE, e.to_string()))?;
            let observation = read_observation(observed)?;
            let options = PromoteOptions { dry_run: *dry_run, expect_epoch: *expect_epoch, json: *json };
            promote(&place, request, observation, options, cli.metrics)
        }
        Command::Candidates { observed, json } => candidates(&place, read_observation(observed)?, *json),
    }
}

/// Every node as a candidate over the durable record and, read after it, the primary's report
/// (one of another epoch speaks for nothing); nothing is locked or written.
fn candidates(place: &Place, observation: Observation, json: bool) -> Result<u8, Failure> {
    let record = read(place)?;
    let report = place.read_report()?;
    let mut inputs = observation.over(Some(record.view()));
    if let Some(report) = report {
        inputs = inputs.with_report(report);
    }
    let found = aerodb_promotion::candidates(PromotionPolicy::Enabled, &inputs);
    if json {
        println!("{}", to_json(&found)?);
    } else {
        print!("{found}");
    }
    Ok(if found.any_approved() { exit::OK } else { exit::REFUSED })
}

fn print_metrics(store: &dyn AuthorityStore, metrics: bool) {
    if metrics {
        print!("{}", store.slot().metrics().prometheus());
    }
}

fn bootstrap(place: &Place, node: &str, metrics: bool) -> Result<u8, Failure> {
    let node = NodeId::new(node).map_err(|e| fail(exit::USAGE, format!("node id {node:?}: {e}")))?;
    let mut store = place.open(true)?;
    let record = store.bootstrap(node).map_err(|error| match error {
        StoreError::Conflict(conflict) => fail(exit::OTHER, format!("refusing to bootstrap: {conflict}")),
        other => Failure::from(other),
    })?;
    println!("bootstrapped epoch {} with {} as primary in {place}", record.epoch(), record.primary());
    print_metrics(store.as_ref(), metrics);
    Ok(exit::OK)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string_pretty(value).map_err(|e| fail(exit::OTHER, e.to_string()))
}

fn inspect(place: &Place, json: bool, at_least: Option<Epoch>) -> Result<u8, Failure> {
    let record = match (read(place), at_least) {
        (Ok(record), Some(seen)) if record.epoch() < seen => {
            return Err(went_back(seen, &format!("epoch {} (primary {})", record.epoch(), record.primary())));
        }
        (Err(failure), Some(seen)) if failure.code == exit::NO_RECORD => {
            return Err(went_back(seen, "no record"));
        }
        (read, _) => read?,
    };
    if json {
        println!("{}", to_json(&record)?)
    } else {
        print!("{record}")
    }
    Ok(exit::OK)
}

/// A remembered epoch the store no longer reaches: nothing is decided on it (P6-A1).
fn went_back(seen: Epoch, found: &str) -> Failure {
    fail(
        exit::CONFLICT,
        format!(
            "the authority went back: epoch {seen} was seen before, the store now holds {found}; a restored backup, \
             a deleted or replaced record? If the authority was truly lost, see start-over"
        ),
    )
}

/// Starts an authority over, in a data directory or under an etcd key: the operator's explicit
/// command after a real loss. A fresh store handle each time (one that saw a newer epoch would
/// refuse the new authority as gone back).
fn start_over(
    place: &Place,
    node: &str,
    above: Epoch,
    start: aerodb_core::Lsn,
    reason: &str,
) -> Result<u8, Failure> {
    let node = NodeId::new(node).map_err(|e| fail(exit::USAGE, format!("node id {node:?}: {e}")))?;
    let started = match place {
        Place::Dir(dir) => {
            existing(dir)?;
            FileAuthorityStore::open(dir)?.start_over(node, above, start, reason)
        }
        Place::Etcd(connection, key) => {
            EtcdAuthorityStore::open(connection, key)?.start_over(node, above, start, reason)
        }
    };
    let record = started.map_err(|error| match error {
        StoreError::StartOver(why) => fail(exit::REFUSED, format!("refusing to start over: {why}")),
        other => Failure::from(other),
    })?;
    println!("started over: epoch {} with {} as primary in {place}", record.epoch(), record.primary());
    Ok(exit::OK)
}

/// One authority in the history: the current one, then each earlier one.
#[derive(serde::Serialize)]
struct HistoryEntry<'a> {
    epoch: Epoch,
    primary: NodeId,
    start: aerodb_core::WalPosition,
    request: Option<&'a aerodb_promotion::RequestSummary>,
}

fn history(place: &Place, json: bool) -> Result<u8, Failure> {
    let record = read(place)?;
    let current = HistoryEntry {
        epoch: record.epoch(),
        primary: record.primary(),
        start: record.start(),
        request: record.request(),
    };
    let earlier = record.history().iter().rev().map(|p| HistoryEntry {
        epoch: p.epoch,
        primary: p.primary,
        start: p.start,
        request: p.request.as_ref(),
    });
    let entries: Vec<HistoryEntry<'_>> = std::iter::once(current).chain(earlier).collect();
    if json {
        println!("{}", to_json(&entries)?);
        return Ok(exit::OK);
    }
    for entry in &entries {
        print!("epoch {} primary {} from {}: ", entry.epoch, entry.primary, entry.start);
        match entry.request {
            Some(request) => println!("{request}"),
            None => println!("bootstrap"),
        }
    }
    Ok(exit::OK)
}

/// How long a standby's WAL receiver may take to stop, and its replay to apply what it flushed.
const FREEZE_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// `epoch/lsn (X/X)`: this library's notation and PostgreSQL's hexadecimal LSN.
fn both(position: aerodb_core::WalPosition) -> String {
    format!("{position} ({})", postgres::types::PgLsn::from(position.lsn.get()))
}

/// A node that answered but could not be read: unknown input, so no observation at all (P6-F1).
fn unreadable(node: &NodeId, error: &aerodb_postgres::observe::ObserveError) -> Failure {
    fail(exit::OTHER, format!("{node} answered but could not be read ({error}): no observation is made"))
}

fn observe(
    place: &Place,
    cluster: &std::path::Path,
    acknowledged_by: Option<&str>,
    freeze: bool,
) -> Result<u8, Failure> {
    let cluster = read_cluster(cluster)?;
    let acknowledged_by = acknowledged_by
        .map(|node| {
            NodeId::new(node).map_err(|e| fail(exit::USAGE, format!("--acknowledged-by {node:?}: {e}")))
        })
        .transpose()?;
    let looked = look(place, &cluster, acknowledged_by, freeze)?;
    println!("{}", to_json(&looked.observation)?);
    Ok(exit::OK)
}

/// The cluster file, or a usage error.
fn read_cluster(path: &std::path::Path) -> Result<aerodb_postgres::cluster::Cluster, Failure> {
    aerodb_postgres::cluster::Cluster::read(path).map_err(|e| fail(exit::USAGE, e.to_string()))
}

/// What one look at every node of a cluster found, under the durable record.
struct Looked {
    record: AuthorityRecord,
    /// Every node that answered, as it reported itself.
    seen: Vec<(NodeId, aerodb_postgres::observe::ServerState)>,
    /// What the validator reads of them.
    observation: Observation,
}

/// `ask` of every node at once (one thread each: a look's time is its slowest node's, not the
/// sum), the answers in the nodes' order.
fn each_node<T: Send>(
    configs: &[(NodeId, postgres::Config)],
    ask: impl Fn(&postgres::Config) -> T + Sync,
) -> Vec<T> {
    std::thread::scope(|scope| {
        let asked: Vec<_> = configs.iter().map(|(_, config)| scope.spawn(|| ask(config))).collect();
        asked
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// Looks at every node of `cluster` (standbys frozen first if `freeze` and the recorded primary
/// does not run), refusing the whole look on any unknown or inconsistent answer (P6-F1).
fn look(
    place: &Place,
    cluster: &aerodb_postgres::cluster::Cluster,
    acknowledged_by: Option<NodeId>,
    freeze: bool,
) -> Result<Looked, Failure> {
    use aerodb_postgres::observe::{self as pg, ServerState};
    use aerodb_promotion::OldPrimary;
    let record = read(place)?;
    let configs: Vec<(NodeId, postgres::Config)> =
        cluster.nodes().filter_map(|node| Some((*node, cluster.config(node)?))).collect();
    // A first look, freezing nothing: a node that answers but cannot be read refuses the whole
    // observation before anything is changed; while the recorded primary runs as a primary a
    // promotion is denied anyway (KnownActive), and freezing its synchronous standby would stall
    // every commit, so nothing is frozen then.
    let mut primary_runs = false;
    for ((node, _), first) in configs.iter().zip(each_node(&configs, pg::observe)) {
        match first {
            Ok(state) => primary_runs |= *node == record.primary() && !state.in_recovery,
            Err(pg::ObserveError::Unreachable(_)) => {}
            Err(error) => return Err(unreadable(node, &error)),
        }
    }
    if freeze && primary_runs {
        eprintln!("aerodb-promote: {} runs as a primary: standbys not frozen", record.primary());
    } else if freeze {
        let epoch = record.epoch().get();
        let frozen = each_node(&configs, |config| pg::freeze(config, epoch, FREEZE_LIMIT));
        for ((node, _), result) in configs.iter().zip(frozen) {
            if let Err(error) = result {
                eprintln!("aerodb-promote: {node}: not frozen: {error}");
            }
        }
    }
    let mut seen: Vec<(NodeId, ServerState)> = Vec::new();
    let settled = each_node(&configs, |config| pg::observe_settled(config, FREEZE_LIMIT));
    for ((node, _), result) in configs.iter().zip(settled) {
        match result {
            Ok(state) => seen.push((*node, state)),
            // Unreachable: left out (the validator knows nothing of it; a candidate left out is
            // denied, an old primary left out is Unknown unless the operator says otherwise).
            Err(error @ pg::ObserveError::Unreachable(_)) => {
                eprintln!("aerodb-promote: {node}: not observed (left out): {error}")
            }
            // It answered but could not be read: unknown input, so no observation at all
            // (P6-F1) — left out, a node ahead of the authority would go unseen.
            Err(error) => return Err(unreadable(node, &error)),
        }
    }
    // Each line reaches the server of the node it names, and no two lines reach one server: a
    // line pointing at the wrong server would put its facts under another node's name.
    for (node, state) in &seen {
        if let Some(named) = state.node.as_deref().filter(|named| *named != node.as_str()) {
            return Err(fail(
                exit::OTHER,
                format!(
                    "the cluster file's line for {node} reaches the server of node {named}: no observation is made"
                ),
            ));
        }
    }
    for (index, (node, state)) in seen.iter().enumerate() {
        if let Some((other, _)) = seen[..index].iter().find(|(_, earlier)| {
            earlier.started == state.started && earlier.system_identifier == state.system_identifier
        }) {
            return Err(fail(
                exit::OTHER,
                format!(
                    "the cluster file's lines for {other} and {node} reach one server: no observation is made"
                ),
            ));
        }
    }
    let systems: std::collections::BTreeSet<u64> = seen.iter().map(|(_, s)| s.system_identifier).collect();
    if systems.len() > 1 {
        let each: Vec<String> = seen.iter().map(|(n, s)| format!("{n} {}", s.system_identifier)).collect();
        return Err(fail(
            exit::OTHER,
            format!(
                "the nodes are not one cluster: database system identifiers differ ({})",
                each.join(", ")
            ),
        ));
    }
    for (node, state) in &seen {
        let role = if state.in_recovery { "standby" } else { "primary" };
        let flushed = state.flushed.map_or_else(
            || "none".to_owned(),
            |lsn| both(aerodb_postgres::timeline::position(&state.history, lsn)),
        );
        eprintln!(
            "aerodb-promote: {node}: {role}, timeline {}, WAL end {}, flushed {flushed}{}{}",
            state.timeline,
            both(state.wal_end()),
            if state.receiving { ", receiving" } else { "" },
            if state.replay_paused { ", replay PAUSED" } else { "" }
        );
    }
    let acknowledged = match acknowledged_by {
        None => None,
        Some(node) => {
            let (_, state) = seen.iter().find(|(n, _)| *n == node).ok_or_else(|| {
                fail(exit::OTHER, format!("--acknowledged-by {node}: that node was not observed"))
            })?;
            // Restarted without a WAL receiver, a standby reports no received position; its
            // startup replayed every valid record in pg_wal, what it had flushed included.
            let flushed = match state.flushed {
                Some(flushed) => flushed,
                None if !state.receiving && state.in_recovery => {
                    eprintln!(
                        "aerodb-promote: {node} received nothing since it started: its replayed end is the bound"
                    );
                    state.replayed
                }
                None => return Err(fail(exit::OTHER, format!("{node} reports no flushed WAL"))),
            };
            Some(aerodb_postgres::timeline::position(&state.history, flushed))
        }
    };
    let primary = record.primary();
    // A recorded primary seen running is active; anything else is Unknown here: that it
    // stopped is evidence only its agent's durable statement (stop-primary) or the operator's
    // --force --reason gives, and promote reads both. One running as a standby is not fenced
    // either (its agent may still promote it while its epoch is durable).
    let old_primary = match seen.iter().find(|(n, _)| *n == primary) {
        Some((_, state)) if !state.in_recovery => OldPrimary::KnownActive,
        _ => OldPrimary::Unknown,
    };
    let nodes = seen.iter().map(|(node, state)| state.node_view(*node)).collect();
    let observation = Observation::new(nodes, old_primary, acknowledged);
    Ok(Looked { record, seen, observation })
}

/// Records a stop request for the current primary at its epoch, then waits at most
/// `wait` for its agent's statement that it stopped.
fn stop_primary(place: &Place, wait: std::time::Duration) -> Result<u8, Failure> {
    let record = read(place)?;
    let (epoch, primary) = (record.epoch(), record.primary());
    request_stop(place, epoch, primary)?;
    match stated_stop(place, epoch, primary, wait)? {
        Some(stopped) => {
            let how = if stopped.clean { "cleanly" } else { "not cleanly (crashed or killed)" };
            println!(
                "{primary} stopped for good at epoch {epoch}, {how}; last checkpoint {}",
                stopped.checkpoint
            );
            Ok(exit::OK)
        }
        None => Err(fail(
            exit::NOT_STOPPED,
            format!(
                "{primary}'s agent has not stated that it stopped within {} s; the request stands \
                 (its agent stops the server whenever it sees it; resume-primary withdraws it); a \
                 promotion without that statement needs the operator's --force --reason",
                wait.as_secs()
            ),
        )),
    }
}

/// Asks `primary` to stop at `epoch`, in the primary report (once: a request stands).
fn request_stop(place: &Place, epoch: Epoch, primary: NodeId) -> Result<(), Failure> {
    use aerodb_promotion::PrimaryReport;
    // The handle is dropped on return: a data directory's lock is the agent's to take next.
    let mut store = place.open(false)?;
    let stored = store.load_report()?;
    let base = stored
        .clone()
        .filter(|r| r.is_for(epoch, primary))
        .unwrap_or_else(|| PrimaryReport::new(epoch, primary));
    if base.stop_requested() {
        eprintln!("aerodb-promote: {primary} was already asked to stop at epoch {epoch}");
    } else {
        store.swap_report(stored.as_ref(), &base.with_stop_requested())?;
        eprintln!("aerodb-promote: asked {primary} to stop at epoch {epoch}");
    }
    Ok(())
}

/// The agent's statement that `primary` stopped at `epoch`, awaited at most `wait`.
fn stated_stop(
    place: &Place,
    epoch: Epoch,
    primary: NodeId,
    wait: std::time::Duration,
) -> Result<Option<aerodb_promotion::Stopped>, Failure> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        let stated = place.read_report()?.filter(|r| r.is_for(epoch, primary)).and_then(|r| r.stopped());
        if stated.is_some() || std::time::Instant::now() >= deadline {
            return Ok(stated);
        }
        // Reading the report is cheap, and a switchover's write outage waits on this look.
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Withdraws a stop asked of the current primary, if one was.
fn resume_primary(place: &Place) -> Result<u8, Failure> {
    let record = read(place)?;
    let (epoch, primary) = (record.epoch(), record.primary());
    let mut store = place.open(false)?;
    let stored = store.load_report()?;
    match stored.clone().filter(|r| r.is_for(epoch, primary) && (r.stop_requested() || r.stopped().is_some()))
    {
        None => println!("no stop was asked of {primary} at epoch {epoch}: nothing to resume"),
        Some(report) => {
            store.swap_report(stored.as_ref(), &report.resumed())?;
            println!("{primary} resumed at epoch {epoch}: its agent starts it again");
        }
    }
    Ok(exit::OK)
}

/// The observation file (`-`: stdin), parsed strictly: a bad field is named by its path.
fn read_observation(source: &str) -> Result<Observation, Failure> {
    let text = if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| fail(exit::OTHER, format!("reading the observation from stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(source)
            .map_err(|e| fail(exit::USAGE, format!("observation file {source}: {e}")))?
    };
    Observation::from_json(&text).map_err(|e| fail(exit::USAGE, format!("observation file {source}: {e}")))
}

struct PromoteOptions {
    dry_run: bool,
    expect_epoch: Option<u64>,
    json: bool,
}

fn print_explanation(explanation: &PromotionExplanation, json: bool) -> Result<(), Failure> {
    if json {
        println!("{}", explanation.to_json().map_err(|e| fail(exit::OTHER, e.to_string()))?);
    } else {
        print!("{explanation}");
    }
    Ok(())
}

fn outcome_code(explanation: &PromotionExplanation) -> u8 {
    match explanation.outcome {
        Outcome::Promoted | Outcome::WouldApprove => exit::OK,
        Outcome::Conflict => exit::CONFLICT,
        Outcome::CommitFault => exit::OTHER,
        _ => exit::REFUSED,
    }
}

fn promote(
    place: &Place,
    request: PromotionRequest,
    observation: Observation,
    options: PromoteOptions,
    metrics: bool,
) -> Result<u8, Failure> {
    let mut store = place.open(false)?;
    let recovered = recover(store.as_ref())?;
    let epoch = recovered.authority.as_ref().map(AuthorityRecord::epoch);
    if let Some(expected) = options.expect_epoch
        && epoch != Some(Epoch::new(expected))
    {
        // The library's one conflict type says it: expected, found, nothing written.
        let conflict = aerodb_promotion::Conflict { expected: Some(Epoch::new(expected)), found: epoch };
        return Err(fail(exit::CONFLICT, format!("{conflict} (nothing was decided)")));
    }
    let mut inputs: ValidationInputs =
        observation.over(recovered.authority.as_ref().map(AuthorityRecord::view));
    // The primary's report (its synchronous rules, its agent's stop statement): the validator
    // reads only one of the current authority's epoch and primary.
    if let Some(report) = store.load_report()? {
        inputs = inputs.with_report(report);
    }
    if options.dry_run {
        let explanation = PromotionExplanation::of_assessment(
            &request,
            &assess(PromotionPolicy::Enabled, &request, &inputs),
        );
        print_explanation(&explanation, options.json)?;
        print_metrics(store.as_ref(), metrics);
        return Ok(outcome_code(&explanation));
    }
    let (explanation, failure) = attempt(store.as_mut(), recovered.steady, request, &inputs);
    print_explanation(&explanation, options.json)?;
    print_metrics(store.as_ref(), metrics);
    if let Some(failure) = failure.filter(|f| !f.error().is_conflict()) {
        // The handle is poisoned; only a fresh read decides old or new, and nothing is retried.
        drop(store);
        let fresh = place.open(false)?;
        let (recovered, resolution) = failure.recover(fresh.as_ref())?;
        let found = recovered
            .authority
            .as_ref()
            .map_or_else(|| "no record".to_owned(), |r| format!("epoch {}", r.epoch()));
        let applied = if resolution == Resolution::Applied { "applied" } else { "did not apply" };
        eprintln!("aerodb-promote: the commit failed; recovery finds that it {applied} ({found})");
    }
    Ok(outcome_code(&explanation))
}

/// The real attempt through the typestate: its explanation, and the failed commit if any.
fn attempt(
    store: &mut dyn AuthorityStore,
    steady: Promotion<Steady>,
    request: PromotionRequest,
    inputs: &ValidationInputs,
) -> (PromotionExplanation, Option<Box<CommitFailure>>) {
    let validating = match steady.request(request).begin_validation(PromotionPolicy::Enabled, inputs) {
        Ok(validating) => validating,
        Err(rejected) => return (rejected.explain(), None),
    };
    let approved = match validating.decide(inputs) {
        Decision::Approved(approved) => approved,
        Decision::Denied(denied) => return (denied.conclude().1.explain(), None),
    };
    match approved.begin_transition().commit(store) {
        Ok(succeeded) => (succeeded.complete().1.explain(), None),
        Err(failure) => (failure.explain(), Some(failure)),
    }
}
