//! Fail over a real PostgreSQL streaming-replication cluster with AeroDB promotion.
//!
//! ```sh
//! cargo run --example postgres_failover [-- --rows N --keep DIR]
//! cargo run --example postgres_failover -- --etcd http://127.0.0.1:2379 --key /aerodb/pg/authority
//! ```
//! Starts three PostgreSQL servers on loopback ports (Debian's `postgresql` package; as root,
//! they run as its `postgres` user): pg1 the primary, pg2 its synchronous standby, pg3 an
//! asynchronous one, cut off before the writes. Writes rows with synchronous commit, SIGKILLs
//! pg1, observes the standbys over SQL, is denied pg3 (P6-S1: behind the acknowledged
//! position), promotes pg2 (the authority record first, then `pg_promote()`: timeline 2 =
//! epoch 2), restarts pg1 as its node agent would (the authority says it is not the primary:
//! `pg_rewind`, then a standby that refuses writes) and checks that no acknowledged row was
//! lost. The authority is a file store in the run's directory, or a key in etcd with `--etcd`.
//! It returns, on success, failure, panic, SIGTERM or SIGINT, only once every server process
//! it started is gone and its temporary directory removed (a signal exits with 128 + its
//! number).
//! `docs/POSTGRESQL.md` maps PostgreSQL's concepts onto the library's.

#[path = "common/events.rs"]
mod events;
#[path = "postgres_failover/scenario.rs"]
mod scenario;

use std::path::PathBuf;
use std::process::ExitCode;

use aerodb_cli::EtcdArgs;
use clap::Parser;

/// Fail over a real PostgreSQL cluster with AeroDB promotion; every step, event and
/// explanation printed.
#[derive(Parser)]
struct Args {
    /// Acknowledged rows to write before the primary is killed.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(i64).range(1..=100_000))]
    rows: i64,
    /// Keep the servers' directories and the authority in DIR, which must not exist yet
    /// (default: a temporary directory, removed at exit).
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    /// Where in etcd to keep the authority instead of a file store (the key must hold no record).
    #[command(flatten)]
    etcd: EtcdArgs,
}

/// The first argument with which this program runs as one of the tools instead.
const RUN_AS: &str = "--run-as";

/// Starts this program again as `tool` (`aerodb-promote` or `aerodb-pg-agent`): a separate
/// process running exactly the tools' code.
fn run_as(tool: &'static str) -> impl Fn() -> std::process::Command + Send + Sync + 'static {
    move || {
        let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("postgres_failover"));
        let mut command = std::process::Command::new(program);
        command.args([RUN_AS, tool]).env("RUST_LOG", "off");
        command
    }
}

fn main() -> ExitCode {
    let mut argv = std::env::args_os();
    if argv.nth(1).is_some_and(|first| first == RUN_AS) {
        let tool = argv.next().unwrap_or_default();
        let args = std::iter::once(tool.clone()).chain(argv);
        return match tool.to_str() {
            Some("aerodb-promote") => aerodb_cli::tool::main(args),
            Some("aerodb-pg-agent") => aerodb_cli::agent::main(args),
            _ => ExitCode::from(2),
        };
    }
    let args = Args::parse();
    events::print_events();
    if let Err(error) = aerodb_postgres::harness::stop_all_on_signals() {
        eprintln!("postgres_failover: {error}");
        return ExitCode::FAILURE;
    }
    let authority = match args.etcd.target() {
        Ok(Some((connection, key))) => scenario::Authority::Etcd(connection, key),
        Ok(None) => scenario::Authority::File,
        Err(error) => {
            eprintln!("postgres_failover: {error}");
            return ExitCode::from(2);
        }
    };
    let launcher =
        || aerodb_postgres::deployment::Launcher::new(run_as("aerodb-promote"), run_as("aerodb-pg-agent"));
    let run =
        |dir: &std::path::Path| scenario::run(dir, &authority, args.rows, launcher(), &mut std::io::stdout());
    let result = match &args.keep {
        Some(dir) => std::fs::create_dir(dir).map_err(Into::into).and_then(|()| run(dir)),
        None => tempfile::Builder::new().prefix("aerodb-pg-").tempdir().map_err(Into::into).and_then(|dir| {
            let _removed_on_signal = aerodb_postgres::harness::remove_on_signal(dir.path());
            run(dir.path())
        }),
    };
    match result {
        Ok(report) => {
            let failures = report.failures();
            for failure in &failures {
                eprintln!("postgres_failover: FAILED: {failure}");
            }
            if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(error) => {
            eprintln!("postgres_failover: {error}");
            ExitCode::FAILURE
        }
    }
}
