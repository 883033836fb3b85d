//! `aerodb-promote`: the operator's tool for AeroDB promotion — bootstrap, inspect, history,
//! dry run and promote — built on the public API of `aerodb-promotion` alone.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aerodb_core::{Epoch, NodeId};
use aerodb_promotion::{
    AuthorityRecord, AuthorityStore, CommitFailure, Decision, FileAuthorityStore, Observation, Outcome,
    Promotion, PromotionExplanation, PromotionPolicy, PromotionRequest, Resolution, Steady, StoreError,
    ValidationInputs, assess, check_permissions, read_record, recover,
};
use clap::{Parser, Subcommand};

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
    /// Denied or rejected; the explanation is printed.
    pub const REFUSED: u8 = 4;
    /// The authority is not the one expected (`--expect-epoch`), or changed before the commit.
    pub const CONFLICT: u8 = 5;
}

const AFTER_HELP: &str = "\
Exit codes: 0 approved (committed unless --dry-run) or done; 1 any other error (I/O, corrupt
record, lock held), with its cause; 2 usage error; 3 no authority record (inspect, history);
4 denied or rejected, with the explanation; 5 the authority is not the one expected
(--expect-epoch) or changed before the commit: nothing was written.

Notation: a WAL position is epoch/lsn (1/120: LSN 120, written in epoch 1); an epoch history
is [epoch@start, ...] (2@100: epoch 2 began after LSN 100).

The data directory keeps the authority in DIR/metadata/authority.record. The store creates DIR
and DIR/metadata with mode 0700 and its files with 0600, and refuses a metadata directory or
record that group or others may write, or that another user owns (inspect warns instead).

Events go to stderr, filtered like RUST_LOG (default: aerodb::promotion=info).";

#[derive(Debug, Parser)]
#[command(name = "aerodb-promote", version, about = "Inspect and change who holds write authority in an AeroDB cluster, safely.", after_help = AFTER_HELP)]
struct Cli {
    /// The data directory whose metadata/authority.record holds the authority.
    #[arg(long, value_name = "DIR", value_parser = non_empty_path)]
    data_dir: PathBuf,
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
    /// Print the authority record (exit 3 if there is none, 1 if it is invalid).
    Inspect {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print every authority, newest first, with the force and reason that made it.
    History {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
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
        /// Assert that an old primary nobody can observe is down (needs --reason).
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
}

fn non_empty_path(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() { Err("the path is empty".to_owned()) } else { Ok(PathBuf::from(text)) }
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

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
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
        .init();
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("aerodb-promote: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn run(cli: &Cli) -> Result<u8, Failure> {
    let dir = cli.data_dir.as_path();
    match &cli.command {
        Command::Bootstrap { node } => bootstrap(dir, node, cli.metrics),
        Command::Inspect { json } => inspect(dir, *json),
        Command::History { json } => history(dir, *json),
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
            promote(dir, request, observation, options, cli.metrics)
        }
    }
}

/// A missing data directory is not an empty store.
fn existing(dir: &Path) -> Result<(), Failure> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(fail(exit::OTHER, format!("data directory {} does not exist", dir.display())))
    }
}

fn print_metrics(store: &FileAuthorityStore, metrics: bool) {
    if metrics {
        print!("{}", store.slot().metrics().prometheus());
    }
}

fn bootstrap(dir: &Path, node: &str, metrics: bool) -> Result<u8, Failure> {
    let node = NodeId::new(node).map_err(|e| fail(exit::USAGE, format!("node id {node:?}: {e}")))?;
    let mut store = FileAuthorityStore::open(dir)?;
    let record = store.bootstrap(node).map_err(|error| match error {
        StoreError::Conflict(conflict) => fail(exit::OTHER, format!("refusing to bootstrap: {conflict}")),
        other => Failure::from(other),
    })?;
    println!(
        "bootstrapped epoch {} with {} as primary in {}",
        record.epoch(),
        record.primary(),
        dir.display()
    );
    print_metrics(&store, metrics);
    Ok(exit::OK)
}

/// The durable record, read-only, with permission problems as warnings.
fn read(dir: &Path) -> Result<AuthorityRecord, Failure> {
    existing(dir)?;
    for problem in check_permissions(dir)? {
        eprintln!("aerodb-promote: warning: {problem}");
    }
    read_record(dir)?
        .ok_or_else(|| fail(exit::NO_RECORD, format!("no authority record in {}", dir.display())))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string_pretty(value).map_err(|e| fail(exit::OTHER, e.to_string()))
}

fn inspect(dir: &Path, json: bool) -> Result<u8, Failure> {
    let record = read(dir)?;
    if json {
        println!("{}", to_json(&record)?)
    } else {
        print!("{record}")
    }
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

fn history(dir: &Path, json: bool) -> Result<u8, Failure> {
    let record = read(dir)?;
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
    let deserializer = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        fail(exit::USAGE, format!("observation file {source}: at `{}`: {}", e.path(), e.inner()))
    })
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
    dir: &Path,
    request: PromotionRequest,
    observation: Observation,
    options: PromoteOptions,
    metrics: bool,
) -> Result<u8, Failure> {
    existing(dir)?;
    let mut store = FileAuthorityStore::open(dir)?;
    let recovered = recover(&store)?;
    let epoch = recovered.authority.as_ref().map(AuthorityRecord::epoch);
    if let Some(expected) = options.expect_epoch
        && epoch != Some(Epoch::new(expected))
    {
        // The library's one conflict type says it: expected, found, nothing written.
        let conflict = aerodb_promotion::Conflict { expected: Some(Epoch::new(expected)), found: epoch };
        return Err(fail(exit::CONFLICT, format!("{conflict} (nothing was decided)")));
    }
    let inputs: ValidationInputs = observation.over(recovered.authority.as_ref().map(AuthorityRecord::view));
    if options.dry_run {
        let explanation = PromotionExplanation::of_assessment(
            &request,
            &assess(PromotionPolicy::Enabled, &request, &inputs),
        );
        print_explanation(&explanation, options.json)?;
        print_metrics(&store, metrics);
        return Ok(outcome_code(&explanation));
    }
    let (explanation, failure) = attempt(&mut store, recovered.steady, request, &inputs);
    print_explanation(&explanation, options.json)?;
    print_metrics(&store, metrics);
    if let Some(failure) = failure.filter(|f| !f.error().is_conflict()) {
        // The handle is poisoned; only a fresh read decides old or new, and nothing is retried.
        drop(store);
        let fresh = FileAuthorityStore::open(dir)?;
        let (recovered, resolution) = failure.recover(&fresh)?;
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
    store: &mut FileAuthorityStore,
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
