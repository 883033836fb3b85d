//! The operator override (P6-A1a) and its audit trail.
//!
//! ```sh
//! cargo run --example forced_promotion
//! ```
//! The primary is cut off: the controller cannot tell whether it is down. Without `force` the
//! promotion is refused; with `force` (the operator asserts it is down) it succeeds, and that
//! assertion is recorded in the durable record, in every event and in the explanation. Force
//! never overrides a primary that is seen to be active.

use std::process::ExitCode;

use clap::Parser;

use aerodb::promotion::PromotionPolicy;
use aerodb::promotion::file_store::read_record;
use aerodb::promotion::testing::cluster::{AttemptReport, Cluster};
use aerodb::promotion::testing::events::Capture;

/// The operator override (P6-A1a) and its audit trail, in a temporary directory removed at exit.
#[derive(Parser)]
struct Args {}

fn main() -> ExitCode {
    let Args {} = Args::parse();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("forced_promotion: {error}");
            ExitCode::FAILURE
        }
    }
}

fn attempt(
    capture: &Capture,
    title: &str,
    run: impl FnOnce() -> Result<AttemptReport, aerodb::promotion::testing::cluster::ClusterError>,
) -> Result<AttemptReport, Box<dyn std::error::Error>> {
    println!("\n== {title}");
    let report = tracing::subscriber::with_default(capture.clone(), run)?;
    for event in capture.take() {
        println!("   event {event}");
    }
    if let Some(explanation) = &report.explanation {
        for line in explanation.to_string().lines() {
            println!("   {line}");
        }
    }
    Ok(report)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let temporary = tempfile::tempdir()?;
    let dir = temporary.path().join("data");
    println!("data directory: {}", dir.display());
    let capture = Capture::default();
    let mut cluster = Cluster::start(&dir, &["node-0", "node-1", "node-2"], PromotionPolicy::Enabled)?;
    cluster.write(6);
    cluster.replicate(1, 6, false)?;
    cluster.replicate(2, 6, false)?;

    println!("\n== node-0 (primary) is partitioned away: the controller cannot tell if it is down");
    cluster.partition(0)?;
    let refused = attempt(&capture, "promote node-1 without force", || cluster.promote(1, false, None))?;
    if refused.promoted {
        return Err("an unobservable primary must not be replaced without force".into());
    }

    let forced = attempt(
        &capture,
        "the operator confirms node-0's host is powered off: promote node-1 with force",
        || cluster.promote(1, true, None),
    )?;
    if !forced.promoted {
        return Err("the forced promotion should have succeeded".into());
    }

    println!("\n== the audit trail in the durable record");
    let record = read_record(&dir)?.ok_or("no record")?;
    let summary = record.request().ok_or("no request summary")?;
    println!(
        "   epoch {} primary {} force={} reason={:?}",
        record.epoch(),
        record.primary(),
        summary.force,
        summary.reason
    );

    println!("\n== node-0 reappears: it learns epoch {} and is fenced", record.epoch());
    cluster.heal(0)?;
    match cluster.nodes()[0].gate().admit_write() {
        Ok(epoch) => return Err(format!("node-0 admitted a write at epoch {epoch}").into()),
        Err(refused) => println!("   a client write on node-0: {refused}"),
    }
    cluster.check_invariants()?;

    println!("\n== force never overrides a primary seen active");
    cluster.write(2);
    cluster.replicate(2, 8, false)?;
    let still_refused =
        attempt(&capture, "promote node-2 with force while node-1 leads", || cluster.promote(2, true, None))?;
    if still_refused.promoted {
        return Err("force must not override an active primary".into());
    }
    Ok(())
}
