//! `aerodb-promote --etcd ENDPOINTS --key KEY` against a real etcd member (Debian's
//! `etcd-server`): the same commands and exit codes as with a data directory. Ignored by
//! `cargo test --workspace`; `.ci/run` runs it:
//!
//! ```sh
//! cargo test -p aerodb-cli --test etcd -- --ignored
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use aerodb_etcd::harness::Cluster;

const KEY: &str = "/aerodb/tool/authority";

fn observed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/observed").join(name)
}

#[test]
#[ignore = "needs etcd (Debian's etcd-server); .ci/run runs it"]
fn an_operator_session_on_etcd() {
    let dir = tempfile::Builder::new().prefix("aerodb-etcd-").tempdir().unwrap();
    let mut cluster = Cluster::start(dir.path(), 1).unwrap_or_else(|e| panic!("{e}"));
    let endpoints = cluster.endpoints().join(",");
    let run = |args: &[&str], password: Option<&str>| -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_aerodb-promote"));
        command.env("RUST_LOG", "off").env_remove("AERODB_ETCD_PASSWORD");
        if let Some(password) = password {
            command.env("AERODB_ETCD_PASSWORD", password);
        }
        command.args(["--etcd", &endpoints, "--key", KEY]).args(args).stdin(Stdio::null()).output().unwrap()
    };
    let code = |output: &Output| output.status.code().unwrap();
    let text = |output: &Output| String::from_utf8_lossy(&output.stdout).into_owned();
    let (caught_up, lagging) = (observed("caught-up.json"), observed("lagging.json"));
    let (caught_up, lagging) = (caught_up.to_str().unwrap(), lagging.to_str().unwrap());

    assert_eq!(code(&run(&["inspect"], None)), 3, "no record yet");
    let out = run(&["bootstrap", "node-0"], None);
    assert_eq!(code(&out), 0);
    assert!(text(&out).contains(&format!("etcd key {KEY}")), "{}", text(&out));
    assert_eq!(code(&run(&["bootstrap", "node-1"], None)), 1, "refused: a record exists");
    assert_eq!(code(&run(&["promote", "node-2", "--observed", lagging, "--dry-run"], None)), 4);
    assert_eq!(code(&run(&["promote", "node-1", "--observed", caught_up, "--expect-epoch", "7"], None)), 5);
    let out = run(&["promote", "node-1", "--observed", caught_up], None);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["inspect", "--json"], None);
    assert!(
        text(&out).contains("\"epoch\": 2") && text(&out).contains("\"primary\": \"node-1\""),
        "{}",
        text(&out)
    );
    let out = run(&["history"], None);
    assert_eq!(text(&out).lines().count(), 2, "{}", text(&out));

    cluster.enable_auth("pw").unwrap();
    assert_eq!(code(&run(&["inspect"], None)), 1, "authentication required");
    let out = run(&["--etcd-user", "root", "inspect"], Some("pw"));
    assert_eq!(code(&out), 1, "a password over plain http is refused");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("plain http"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plain = ["--etcd-user", "root", "--etcd-allow-plaintext-password", "inspect"];
    assert_eq!(code(&run(&plain, Some("wrong"))), 1);
    assert_eq!(code(&run(&plain, None)), 2, "no password given");
    assert_eq!(code(&run(&plain, Some("pw"))), 0);
    drop(cluster);
    assert_eq!(code(&run(&["inspect"], None)), 1, "etcd unreachable");
}

/// Issue 23 item 1 through the operator's tool on etcd: a deleted key is refused (exit 1, the
/// went-back event on stderr) and never bootstrapped over; `start-over` with `--etcd` starts
/// the authority over explicitly above every epoch the key's companion holds (refused below
/// it, exit 4), and `inspect` then shows the new authority.
#[test]
#[ignore = "needs etcd (Debian's etcd-server); .ci/run runs it"]
fn starting_over_on_etcd_after_the_key_was_deleted() {
    let dir = tempfile::Builder::new().prefix("aerodb-etcd-").tempdir().unwrap();
    let cluster = Cluster::start(dir.path(), 1).unwrap_or_else(|e| panic!("{e}"));
    let endpoints = cluster.endpoints().join(",");
    let run = |args: &[&str]| -> Output {
        Command::new(env!("CARGO_BIN_EXE_aerodb-promote"))
            .env("RUST_LOG", "aerodb::promotion=info")
            .env_remove("AERODB_ETCD_PASSWORD")
            .args(["--etcd", &endpoints, "--key", KEY])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let code = |output: &Output| output.status.code().unwrap();
    let text = |output: &Output| String::from_utf8_lossy(&output.stdout).into_owned();
    let errors = |output: &Output| String::from_utf8_lossy(&output.stderr).into_owned();
    let caught_up = observed("caught-up.json");

    assert_eq!(code(&run(&["bootstrap", "node-0"])), 0);
    let out = run(&["promote", "node-1", "--observed", caught_up.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", errors(&out));
    cluster.delete_raw(KEY).unwrap();

    let out = run(&["inspect"]);
    assert_eq!(code(&out), 1, "a deleted key went back: {}", errors(&out));
    assert!(errors(&out).contains("went back"), "{}", errors(&out));
    assert!(errors(&out).contains("replication.promotion.authority_went_back"), "{}", errors(&out));
    assert_eq!(code(&run(&["bootstrap", "node-9"])), 1, "never bootstrapped over");

    let refused = run(&["start-over", "node-2", "--above", "1", "--start", "0", "--reason", "lost"]);
    assert_eq!(code(&refused), 4, "{}", errors(&refused));
    assert!(errors(&refused).contains("below epoch 2"), "{}", errors(&refused));
    let out =
        run(&["start-over", "node-2", "--above", "2", "--start", "30", "--reason", "etcd lost the key"]);
    assert_eq!(code(&out), 0, "{}", errors(&out));
    assert!(text(&out).contains(&format!("started over: epoch 3 with node-2 as primary in etcd key {KEY}")));
    let out = run(&["inspect", "--json"]);
    assert_eq!(code(&out), 0, "{}", errors(&out));
    assert!(
        text(&out).contains("\"epoch\": 3") && text(&out).contains("\"primary\": \"node-2\""),
        "{}",
        text(&out)
    );
}
