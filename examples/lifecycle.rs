//! The whole promotion lifecycle on a three-node cluster.
//!
//! ```sh
//! cargo run --example lifecycle [-- --data-dir DIR]
//! ```
//! Writes are acknowledged; the primary is lost; a lagging replica is denied with its
//! explanation; the caught-up replica is promoted; the old primary comes back and is fenced;
//! a restarted controller recovers the same authority. Every event and explanation is printed.
//! With `--data-dir DIR` the authority record stays in `DIR/metadata/authority.record` for
//! `cargo run --example inspect -- DIR`; without it, a temporary directory is used and removed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use aerodb::promotion::file_store::read_record;
use aerodb::promotion::testing::cluster::{AttemptReport, Cluster};
use aerodb::promotion::testing::events::Capture;
use aerodb::promotion::{AuthorityStore, PromotionPolicy};

/// The whole promotion lifecycle on a three-node cluster, every event and explanation printed.
#[derive(Parser)]
struct Args {
    /// Keep the store in DIR, which must hold no authority record yet (default: a temporary
    /// directory, removed at exit).
    #[arg(long, value_name = "DIR", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    data_dir: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("lifecycle: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Prints, indented, the events emitted while `step` ran.
fn step<T>(capture: &Capture, title: &str, step: impl FnOnce() -> T) -> T {
    println!("\n== {title}");
    let result = tracing::subscriber::with_default(capture.clone(), step);
    for event in capture.take() {
        println!("   event {event}");
    }
    result
}

/// The attempt's explanation, indented.
fn explained(report: &AttemptReport) -> String {
    report
        .explanation
        .as_ref()
        .map_or_else(|| "(the controller crashed mid-attempt)".to_owned(), |e| e.to_string())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("   {l}\n")).collect()
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // A temporary directory lives until `run` returns, then is removed.
    let temporary;
    let dir = match &args.data_dir {
        Some(dir) => PathBuf::from(dir),
        None => {
            temporary = tempfile::tempdir()?;
            temporary.path().join("data")
        }
    };
    if read_record(&dir)?.is_some() {
        return Err(
            format!("{} already holds an authority record; use an empty directory", dir.display()).into()
        );
    }
    println!("AeroDB promotion lifecycle");
    println!("data directory: {}", dir.display());
    let capture = Capture::default();
    let names = ["node-0", "node-1", "node-2"];

    let mut cluster = step(&capture, "bootstrap: node-0 is the primary of epoch 1", || {
        Cluster::start(&dir, &names, PromotionPolicy::Enabled)
    })?;
    println!(
        "   authority: epoch {}, primary {}",
        cluster.authority().epoch(),
        cluster.authority().primary()
    );

    println!("\n== clients write 12 records; the primary acknowledges each");
    let acked = cluster.write(12);
    cluster.replicate(1, 12, false)?;
    cluster.replicate(2, 8, false)?;
    println!("   acknowledged: {acked} records, through {}", cluster.acknowledged());
    for node in cluster.nodes() {
        println!("   {} {:?} at {}", node.id, node.role(), node.position());
    }

    println!("\n== node-0 is lost: its host crashed (the operator confirms it is stopped)");
    cluster.crash(0)?;

    let denied = step(&capture, "request: promote node-2 (it has 8 of the 12 acknowledged records)", || {
        cluster.promote(2, false, None)
    })?;
    print!("{}", indent(&explained(&denied)));

    let promoted =
        step(&capture, "request: promote node-1 (it has all 12)", || cluster.promote(1, false, None))?;
    print!("{}", indent(&explained(&promoted)));
    let node1 = &cluster.nodes()[1];
    let epoch = node1.gate().admit_write().map_err(|e| e.to_string())?;
    println!("   node-1 is now {:?}, admitting writes at epoch {epoch}", node1.role());
    println!("   clients write 3 more records: {} acknowledged", cluster.write(3));
    cluster.replicate(2, 16, false)?;
    println!("   node-2 follows node-1, now at {}", cluster.nodes()[2].position());

    println!("\n== node-0 restarts, still believing it leads epoch 1");
    cluster.restart(0)?;
    match cluster.nodes()[0].gate().admit_write() {
        Ok(epoch) => return Err(format!("node-0 admitted a write at epoch {epoch}").into()),
        Err(refused) => println!("   a client write on node-0: {refused}"),
    }
    println!("   node-0 is {:?}", cluster.nodes()[0].role());
    let rejoined = cluster.rejoin(0)?;
    println!("   node-0 rejoins as a replica: {rejoined}; now {:?}", cluster.nodes()[0].role());
    cluster.check_invariants()?;
    println!("\n== metrics of this controller\n{}", indent(&cluster.store()?.slot().metrics().prometheus()));

    let authority = cluster.authority().clone();
    let recovered = step(&capture, "the controller restarts and recovers from the durable record", || {
        cluster.restart_controller().cloned()
    })?;
    println!(
        "   recovered: epoch {}, primary {} (was {}); same as before the restart: {}",
        recovered.epoch(),
        recovered.primary(),
        recovered.previous_primary().map_or_else(|| "none".to_owned(), |p| p.to_string()),
        recovered == authority
    );
    if recovered != authority {
        return Err("recovery did not reproduce the authority".into());
    }
    if args.data_dir.is_some() {
        println!("\ninspect it: cargo run --example inspect -- {}", dir.display());
    }
    Ok(())
}
