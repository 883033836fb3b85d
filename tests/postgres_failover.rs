//! The PostgreSQL failover against real servers: Debian's `postgresql` package, run as its
//! `postgres` user when root. Ignored by `cargo test --workspace`, which must pass on a machine
//! without PostgreSQL; `.ci/run` installs it and runs this test, failing if a server cannot
//! start:
//!
//! ```sh
//! cargo test --test postgres_failover -- --ignored
//! ```
//! The second test keeps the authority in etcd (Debian's `etcd-server`).

mod common;
#[path = "../examples/postgres_failover/scenario.rs"]
mod scenario;

use aerodb::core::Epoch;
use aerodb::promotion::Invariant;

const ROWS: i64 = 300;

#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn a_real_failover_loses_no_acknowledged_write_and_fences_the_old_primary() {
    failover(&scenario::Authority::File);
}

/// The same failover with the authority in a real etcd cluster of three members.
#[test]
#[ignore = "needs PostgreSQL (Debian's postgresql) and etcd (Debian's etcd-server); .ci/run runs it"]
fn the_same_failover_with_the_authority_in_etcd() {
    let etcd_dir = tempfile::Builder::new().prefix("aerodb-etcd-").tempdir().unwrap();
    let cluster = aerodb_etcd::harness::Cluster::start(etcd_dir.path(), 3).unwrap_or_else(|e| panic!("{e}"));
    failover(&scenario::Authority::Etcd(cluster.connection(), "/aerodb/pg/authority".to_owned()));
}

/// The tools as processes: the `postgres_failover` example runs as either with `--run-as`
/// (`cargo test --workspace` built it).
fn launcher() -> aerodb_postgres::deployment::Launcher {
    let example = common::example("postgres_failover");
    let run_as = move |tool: &'static str| {
        let example = example.clone();
        move || {
            let mut command = std::process::Command::new(&example);
            command.args(["--run-as", tool]).env("RUST_LOG", "off");
            command
        }
    };
    aerodb_postgres::deployment::Launcher::new(run_as("aerodb-promote"), run_as("aerodb-pg-agent"))
}

fn failover(authority: &scenario::Authority) {
    // Ctrl-C or SIGTERM of the test stops its servers and agents and removes their directory first.
    aerodb_postgres::harness::stop_all_on_signals().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::Builder::new().prefix("aerodb-pg-").tempdir().unwrap();
    let _removed_on_signal = aerodb_postgres::harness::remove_on_signal(dir.path());
    let mut out = Vec::new();
    let result = scenario::run(dir.path(), authority, ROWS, launcher(), &mut out);
    let printed = String::from_utf8_lossy(&out).into_owned();
    let report = result.unwrap_or_else(|error| panic!("{printed}\nthe failover failed: {error}"));
    println!("{printed}");

    // The asynchronous standby, cut off before the writes, is denied for P6-S1.
    assert_eq!(report.async_denied, Some(Invariant::P6S1));
    // The synchronous standby is promoted: epoch 2 is PostgreSQL's timeline 2, and the
    // record's epoch history is the timeline's history file.
    assert_eq!((report.record.epoch(), report.timeline), (Epoch::new(2), 2));
    assert_eq!(report.record.primary().as_str(), "pg2");
    assert_eq!(report.timeline_history, *report.record.epoch_history());
    // Every acknowledged row is on the new primary.
    assert_eq!(report.acknowledged, (1..=ROWS).collect::<Vec<_>>());
    assert!(report.acknowledged.iter().all(|id| report.rows_on_new_primary.contains(id)));
    // The old primary came back a standby on the new timeline and refused a write as read-only.
    assert!(report.old_primary.in_recovery);
    assert_eq!(report.old_primary.timeline, 2);
    assert_eq!(report.old_primary_write.as_deref(), Some("25006"));
    assert!(report.rejoined_follows);
    assert_eq!(report.failures(), Vec::<String>::new());

    // The example's verdict notices each claim broken (it decides the example's exit code).
    let broken: [fn(&mut scenario::Report); 6] = [
        |r| r.async_denied = None,
        |r| r.timeline = 3,
        |r| {
            r.rows_on_new_primary.remove(&ROWS);
        },
        |r| r.old_primary.in_recovery = false,
        |r| r.old_primary_write = None,
        |r| r.rejoined_follows = false,
    ];
    for (index, breaking) in broken.iter().enumerate() {
        let mut copy = report.clone();
        breaking(&mut copy);
        assert_eq!(copy.failures().len(), 1, "broken claim {index} went unnoticed");
    }
}
