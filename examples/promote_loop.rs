//! Promotes back and forth between two nodes through the full typestate lifecycle.
//!
//! ```sh
//! cargo run --example promote_loop -- --data-dir DIR --count N
//! cargo run --example promote_loop -- --etcd http://127.0.0.1:2379,... --key /aerodb/c1/authority --count N
//! ```
//! Opens (recovering) the store in DIR, or the authority under KEY in etcd, bootstraps `node-a`
//! if there is none, then promotes the node that is not primary until it has committed N
//! times. After each durable commit, the bootstrap's included, prints `committed epoch E` on
//! its own line, flushed. Several may race on one etcd key: a commit that loses prints
//! `conflict at epoch E` (E: the epoch it validated against), its explanation's reason on
//! stderr, and the loop goes on from a fresh read. A commit whose outcome is unknown prints nothing and exits 1 with the cause.

use std::io::Write;
use std::process::ExitCode;

use aerodb::core::NodeId;
use aerodb::promotion::testing::caught_up_inputs;
use aerodb::promotion::{
    AuthorityRecord, AuthorityStore, Decision, PromotionPolicy, PromotionRequest, StoreError, recover,
};
use aerodb_cli::StoreArgs;

/// Promotes back and forth between two nodes, printing `committed epoch E` after each commit.
/// The store is given as to `aerodb-promote` (`--data-dir DIR`, created if missing and
/// bootstrapped with node-a if empty, or `--etcd ENDPOINTS --key KEY` with its TLS and
/// authentication options).
#[derive(clap::Parser)]
struct Args {
    /// Where the authority is kept.
    #[command(flatten)]
    store: StoreArgs,
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

fn conflict(epoch: impl std::fmt::Display) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "conflict at epoch {epoch}").and_then(|()| out.flush()).map_err(|e| e.to_string())
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut store = args.store.place()?.open(true)?;
    promote_loop(store.as_mut(), args.count)
}

/// Bootstraps tried before giving up when racing controllers keep moving the store under them.
const BOOTSTRAP_TRIES: usize = 8;

/// The current authority, bootstrapping `first` if there is none. A bootstrap lost to a racing
/// controller is no error: its record is the authority. A bootstrap refused with still no
/// record means only that the store moved under it (in etcd, another controller's open settled
/// the key): nothing was written anywhere, so it is asked again, a bounded number of times.
fn authority(
    store: &mut dyn AuthorityStore,
    first: NodeId,
) -> Result<AuthorityRecord, Box<dyn std::error::Error>> {
    for _ in 0..BOOTSTRAP_TRIES {
        if let Some(record) = recover(store)?.authority {
            return Ok(record);
        }
        match store.bootstrap(first) {
            Ok(record) => {
                committed(record.epoch())?;
                return Ok(record);
            }
            Err(StoreError::Conflict(_)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Err(format!("no authority after {BOOTSTRAP_TRIES} bootstraps refused as the store moved").into())
}

fn promote_loop(store: &mut dyn AuthorityStore, count: u64) -> Result<(), Box<dyn std::error::Error>> {
    let nodes = [NodeId::new("node-a")?, NodeId::new("node-b")?];
    let mut current = authority(store, nodes[0])?;
    let mut done = 0;
    while done < count {
        let candidate = if current.primary() == nodes[0] { nodes[1] } else { nodes[0] };
        // Each epoch writes 100 more bytes of WAL, all acknowledged and replicated.
        let lsn = current.start().lsn.get() + 100;
        let inputs = caught_up_inputs(&current, candidate, lsn);
        let request = PromotionRequest::builder(candidate.as_str()).reason("promote_loop").build()?;
        let validating =
            recover(store)?.steady.request(request).begin_validation(PromotionPolicy::Enabled, &inputs)?;
        let approved = match validating.decide(&inputs) {
            Decision::Approved(approved) => approved,
            Decision::Denied(denied) => return Err(denied.denial().reason().to_string().into()),
        };
        match approved.begin_transition().commit(store) {
            Ok(succeeded) => {
                let (_steady, outcome) = succeeded.complete();
                current = outcome.record().clone();
                committed(current.epoch())?;
                done += 1;
            }
            // Nothing was written: another controller moved the authority; go on from it.
            Err(failure) if failure.error().is_conflict() => {
                conflict(current.epoch())?;
                eprintln!("promote_loop: {}", failure.explain().reason);
                drop(failure);
                current = recover(store)?.authority.ok_or("the authority vanished")?;
            }
            Err(failure) => return Err(failure.into()),
        }
    }
    Ok(())
}
