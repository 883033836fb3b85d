//! Promotes back and forth between two nodes through the full typestate lifecycle.
//!
//! ```sh
//! cargo run --example promote_loop -- --data-dir DIR --count N
//! ```
//! Opens (recovering) the store in DIR, bootstraps `node-a` if it is empty, then N times
//! promotes the node that is not primary. After each durable commit, the bootstrap's
//! included, prints `committed epoch E` on its own line, flushed. Reruns continue from disk.

use std::io::Write;
use std::process::ExitCode;

use aerodb::core::NodeId;
use aerodb::promotion::testing::caught_up_inputs;
use aerodb::promotion::{
    AuthorityStore, Decision, FileAuthorityStore, PromotionPolicy, PromotionRequest, recover,
};

/// Promotes back and forth between two nodes, printing `committed epoch E` after each commit.
#[derive(clap::Parser)]
struct Args {
    /// The data directory (created if missing; bootstrapped with node-a if empty).
    #[arg(long, value_name = "DIR", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    data_dir: String,
    /// How many promotions to make.
    #[arg(long, value_name = "N")]
    count: u64,
}

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("promote_loop: {error}");
            ExitCode::FAILURE
        }
    }
}

fn committed(epoch: impl std::fmt::Display) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "committed epoch {epoch}").and_then(|()| out.flush()).map_err(|e| e.to_string())
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (dir, count) = (args.data_dir, args.count);
    let nodes = [NodeId::new("node-a")?, NodeId::new("node-b")?];

    let mut store = FileAuthorityStore::open(&dir)?;
    let mut current = match recover(&store)?.authority {
        Some(record) => record,
        None => {
            let record = store.bootstrap(nodes[0])?;
            committed(record.epoch())?;
            record
        }
    };
    for _ in 0..count {
        let candidate = if current.primary() == nodes[0] { nodes[1] } else { nodes[0] };
        // Each epoch writes 100 more bytes of WAL, all acknowledged and replicated.
        let lsn = current.start().lsn.get() + 100;
        let inputs = caught_up_inputs(&current, candidate, lsn);
        let request = PromotionRequest::builder(candidate.as_str()).reason("promote_loop").build()?;
        let validating =
            recover(&store)?.steady.request(request).begin_validation(PromotionPolicy::Enabled, &inputs)?;
        let approved = match validating.decide(&inputs) {
            Decision::Approved(approved) => approved,
            Decision::Denied(denied) => return Err(denied.denial().reason().to_string().into()),
        };
        let succeeded = approved.begin_transition().commit(&mut store)?;
        let (_steady, outcome) = succeeded.complete();
        current = outcome.record().clone();
        committed(current.epoch())?;
    }
    debug_assert_eq!(store.load()?.as_ref(), Some(&current));
    Ok(())
}
