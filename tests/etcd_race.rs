//! Racing controllers: several `promote_loop` processes promote against one etcd key at once,
//! on a real 3-member etcd cluster (Debian's `etcd-server`). Every epoch is committed by
//! exactly one of them and is on the final record's history; losers see conflicts. Ignored by
//! `cargo test --workspace`; `.ci/run` runs it (after `cargo test --workspace` built the
//! example):
//!
//! ```sh
//! cargo build --example promote_loop && cargo test --test etcd_race -- --ignored
//! ```

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use aerodb_etcd::harness::Cluster;
use aerodb_etcd::read_record;

const CONTROLLERS: usize = 3;
const COUNT: u64 = 12;
const KEY: &str = "/aerodb/race/authority";

#[test]
#[ignore = "needs etcd (Debian's etcd-server); .ci/run runs it"]
fn racing_controllers_commit_every_epoch_exactly_once() {
    let dir = tempfile::Builder::new().prefix("aerodb-etcd-").tempdir().unwrap();
    let cluster = Cluster::start(dir.path(), 3).unwrap_or_else(|e| panic!("{e}"));
    let endpoints = cluster.endpoints().join(",");
    let children: Vec<_> = (0..CONTROLLERS)
        .map(|_| {
            Command::new(common::example("promote_loop"))
                .args(["--etcd", &endpoints, "--key", KEY, "--count", &COUNT.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children.into_iter().map(|child| child.wait_with_output().unwrap()).collect();
    let explained = outputs
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stderr).matches("the authority changed: expected epoch").count())
        .sum::<usize>();

    let mut committed = Vec::new();
    let mut conflicts = 0;
    for (index, output) in outputs.iter().enumerate() {
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "controller {index}: {}\n{text}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mine: Vec<u64> = text
            .lines()
            .filter_map(|l| l.strip_prefix("committed epoch "))
            .map(|e| e.parse().unwrap())
            .collect();
        assert!(mine.len() as u64 >= COUNT, "controller {index} committed {} times", mine.len());
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "controller {index} went back: {mine:?}");
        conflicts += text.lines().filter(|l| l.starts_with("conflict at epoch ")).count();
        assert!(
            text.lines().all(|l| l.starts_with("committed epoch ") || l.starts_with("conflict at epoch ")),
            "{text}"
        );
        committed.extend(mine);
    }
    let total = 1 + CONTROLLERS as u64 * COUNT;
    let unique: BTreeSet<u64> = committed.iter().copied().collect();
    assert_eq!(unique.len(), committed.len(), "two controllers reported the same epoch: {committed:?}");
    assert_eq!(unique, (1..=total).collect(), "every epoch committed exactly once");
    assert_eq!(explained, conflicts, "every conflict is explained on stderr");
    println!("{CONTROLLERS} controllers, {total} epochs, {conflicts} conflicts");

    let record = read_record(&cluster.connection(), KEY).unwrap().unwrap();
    assert_eq!(record.epoch().get(), total);
    let chain: Vec<u64> = record.history().iter().map(|past| past.epoch.get()).collect();
    assert_eq!(
        chain,
        (1..total).collect::<Vec<_>>(),
        "every committed epoch is on the final record's history"
    );
}

/// `inspect --etcd` keeps the data-directory exit codes: 0 with the record, 3 with no record
/// under the key, 1 when etcd cannot be reached.
#[test]
#[ignore = "needs etcd (Debian's etcd-server); .ci/run runs it"]
fn inspect_reads_the_authority_from_etcd() {
    let dir = tempfile::Builder::new().prefix("aerodb-etcd-").tempdir().unwrap();
    let cluster = Cluster::start(dir.path(), 1).unwrap_or_else(|e| panic!("{e}"));
    let endpoints = cluster.endpoints().join(",");
    let inspect = common::example("inspect");
    let run = |args: &[&str]| Command::new(&inspect).args(args).output().unwrap();

    let empty = run(&["--etcd", &endpoints, "--key", KEY]);
    assert_eq!(empty.status.code(), Some(3), "{}", String::from_utf8_lossy(&empty.stderr));
    let looped = Command::new(common::example("promote_loop"))
        .args(["--etcd", &endpoints, "--key", KEY, "--count", "2"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&looped.stdout),
        "committed epoch 1\ncommitted epoch 2\ncommitted epoch 3\n"
    );
    let found = run(&["--etcd", &endpoints, "--key", KEY, "--json"]);
    assert_eq!(found.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&found.stdout).contains("\"epoch\": 3"));
    drop(cluster);
    let unreachable = run(&["--etcd", &endpoints, "--key", KEY]);
    assert_eq!(unreachable.status.code(), Some(1), "{}", String::from_utf8_lossy(&unreachable.stderr));
}

/// A controller SIGKILLed in the middle of its commits: the authority is what etcd holds,
/// every epoch it reported committed is there, at most the one in flight beyond them, and the
/// next controller goes on from it.
#[test]
#[ignore = "needs etcd (Debian's etcd-server); .ci/run runs it"]
fn a_controller_killed_mid_commit_leaves_etcd_to_decide() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::Builder::new().prefix("aerodb-etcd-").tempdir().unwrap();
    let cluster = Cluster::start(dir.path(), 3).unwrap_or_else(|e| panic!("{e}"));
    let endpoints = cluster.endpoints().join(",");
    let mut child = Command::new(common::example("promote_loop"))
        .args(["--etcd", &endpoints, "--key", KEY, "--count", "1000000"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut reported = 0;
    for line in lines.by_ref().take(25) {
        reported = line.unwrap().strip_prefix("committed epoch ").unwrap().parse::<u64>().unwrap();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // What it managed to print after the 25th line, before the kill.
    for line in lines {
        reported = line.unwrap().strip_prefix("committed epoch ").unwrap().parse::<u64>().unwrap();
    }
    let record = read_record(&cluster.connection(), KEY).unwrap().unwrap();
    let held = record.epoch().get();
    assert!(held == reported || held == reported + 1, "reported {reported}, etcd holds {held}");
    let next = Command::new(common::example("promote_loop"))
        .args(["--etcd", &endpoints, "--key", KEY, "--count", "1"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&next.stdout), format!("committed epoch {}\n", held + 1));
}

/// Without a quorum, `promote_loop` prints nothing for the commit it could not make and exits 1
/// with the cause; the authority is unchanged when the quorum returns.
#[test]
#[ignore = "needs etcd (Debian's etcd-server); .ci/run runs it"]
fn without_a_quorum_promote_loop_reports_nothing_and_fails() {
    let dir = tempfile::Builder::new().prefix("aerodb-etcd-").tempdir().unwrap();
    let mut cluster = Cluster::start(dir.path(), 3).unwrap_or_else(|e| panic!("{e}"));
    let endpoints = cluster.endpoints().join(",");
    let run = || {
        Command::new(common::example("promote_loop"))
            .args(["--etcd", &endpoints, "--key", KEY, "--count", "1"])
            .output()
            .unwrap()
    };
    assert_eq!(String::from_utf8_lossy(&run().stdout), "committed epoch 1\ncommitted epoch 2\n");
    cluster.kill(1);
    cluster.kill(2);
    let failed = run();
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&failed.stdout), "", "no commit reported");
    assert!(!failed.stderr.is_empty(), "the cause is printed");
    cluster.restart(1).unwrap();
    cluster.restart(2).unwrap();
    cluster.wait_serving().unwrap();
    assert_eq!(read_record(&cluster.connection(), KEY).unwrap().unwrap().epoch().get(), 2);
}

/// A commit whose outcome is unknown (a scripted gateway reads the transaction and hangs up):
/// `promote_loop` prints nothing for it, sends it once, and exits 1 with the cause.
#[test]
#[ignore = "runs the promote_loop example `cargo test --workspace` builds; .ci/run runs it"]
fn an_unknown_outcome_prints_nothing_and_exits_1() {
    use aerodb::core::NodeId;
    use aerodb::promotion::AuthorityRecord;
    use aerodb_etcd::harness::{OnTransaction, ScriptedGateway};
    let record = AuthorityRecord::bootstrap(NodeId::new("node-a").unwrap()).to_bytes().unwrap();
    let gateway = ScriptedGateway::start(Some(record), OnTransaction::HangUp, 5).unwrap();
    let out = Command::new(common::example("promote_loop"))
        .args(["--etcd", gateway.endpoint(), "--key", KEY, "--count", "1"])
        .output()
        .unwrap();
    let paths = gateway.finish();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("outcome is unknown"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(paths.iter().filter(|p| p.as_str() == "/v3/kv/txn").count(), 1, "{paths:?}");
}
