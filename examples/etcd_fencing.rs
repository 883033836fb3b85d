//! An old primary learns from etcd that it lost authority, and fences itself.
//!
//! ```sh
//! cargo run --example etcd_fencing                  # starts its own etcd (Debian's etcd-server)
//! cargo run --example etcd_fencing -- --etcd http://127.0.0.1:2379 --key /aerodb/demo/authority
//! ```
//! node-a leads epoch 1 and admits writes. The controller loses sight of it and, on the
//! operator's word, promotes node-b with force. node-a never heard of that: its gate still
//! admits writes, until its follower polls the authority key, sees epoch 2 and fences it for
//! good. A replica, node-c, follows the new epoch the same way. Polling decides how soon a
//! node learns, never who may write: fencing only takes authority away (P6-A1).

#[path = "common/events.rs"]
mod events;

use std::process::ExitCode;

use aerodb::core::{NodeId, ReplicationState};
use aerodb::promotion::testing::caught_up_inputs;
use aerodb::promotion::{
    AuthorityStore, Decision, OldPrimary, PromotionPolicy, PromotionRequest, WriteGate, recover,
};
use aerodb_cli::EtcdArgs;
use aerodb_etcd::harness::Cluster;
use aerodb_etcd::{AuthorityFollower, EtcdAuthorityStore};
use clap::Parser;

/// An old primary follows the authority in etcd and fences itself once a newer epoch is durable.
/// Without --etcd, a local etcd member is started in a temporary directory; a key given must
/// hold no record yet.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    etcd: EtcdArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    events::print_events();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("etcd_fencing: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // A local member lives until `run` returns, then is stopped and its directory removed.
    let (_dir, _cluster, connection, key) = match args.etcd.target()? {
        Some((connection, key)) => (None, None, connection, key),
        None => {
            let dir = tempfile::Builder::new().prefix("aerodb-etcd-").tempdir()?;
            let cluster = Cluster::start(dir.path(), 1)?;
            let connection = cluster.connection();
            println!("started etcd at {}", cluster.endpoints().join(","));
            (Some(dir), Some(cluster), connection, "/aerodb/demo/authority".to_owned())
        }
    };
    let (a, b, c) = (NodeId::new("node-a")?, NodeId::new("node-b")?, NodeId::new("node-c")?);

    println!("\n== the controller bootstraps node-a under {key}");
    let mut store = EtcdAuthorityStore::open(&connection, &key)?;
    let first = store.bootstrap(a)?;
    let node_a = WriteGate::replica(a, Some(&first))?;
    let grant = recover(&store)?.grant.ok_or("no grant for the bootstrap record")?;
    grant.rebind(ReplicationState::Uninitialized, &node_a, &store)?;
    let node_c = WriteGate::replica(c, Some(&first))?;
    let (follower_a, follower_c) =
        (AuthorityFollower::new(&connection, &key)?, AuthorityFollower::new(&connection, &key)?);
    follower_c.poll(&node_c)?;
    println!("   node-a admits a write at epoch {}", node_a.admit_write()?);

    println!("\n== node-a is cut off from the controller; the operator forces node-b's promotion");
    let recovered = recover(&store)?;
    let current = recovered.authority.clone().ok_or("no authority")?;
    let mut inputs = caught_up_inputs(&current, b, 100);
    inputs.old_primary = OldPrimary::Unknown;
    let request = PromotionRequest::builder("node-b")
        .force(true)
        .reason("node-a unreachable; its host is being powered off")
        .build()?;
    let validating = recovered.steady.request(request).begin_validation(PromotionPolicy::Enabled, &inputs)?;
    let Decision::Approved(approved) = validating.decide(&inputs) else { return Err("denied".into()) };
    let (_steady, committed) = approved.begin_transition().commit(&mut store)?.complete();
    println!("   durable: epoch {}, primary {}", committed.record().epoch(), committed.record().primary());

    println!("\n== node-a has not heard yet");
    println!("   node-a admits a write at epoch {} (it has not polled)", node_a.admit_write()?);

    println!("\n== node-a's follower polls the authority key");
    let seen = follower_a.poll(&node_a)?.ok_or("no record")?;
    println!("   read: epoch {}, primary {}", seen.epoch(), seen.primary());
    match node_a.admit_write() {
        Ok(epoch) => return Err(format!("node-a still admitted a write at epoch {epoch}").into()),
        Err(refused) => println!("   node-a: {refused}"),
    }
    follower_c.poll(&node_c)?;
    println!(
        "   node-c follows epoch {}: {}",
        node_c.epoch(),
        node_c.admit_write().err().map_or_else(String::new, |e| e.to_string())
    );
    Ok(())
}
