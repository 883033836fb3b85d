//! The built `aerodb-promote` binary, driven as an operator would: exit codes, output, and
//! what is (and is not) written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use aerodb_core::NodeId;
use aerodb_etcd::harness::{OnTransaction, ScriptedGateway};
use aerodb_promotion::file_store::read_record;
use aerodb_promotion::{
    AuthorityRecord, FileAuthorityStore, Observation, PromotionExplanation, PromotionPolicy,
    PromotionRequest, assess,
};

fn bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aerodb-promote"));
    command.env("RUST_LOG", "off");
    command
}

fn run(dir: &Path, args: &[&str]) -> Output {
    bin().arg("--data-dir").arg(dir).args(args).stdin(Stdio::null()).output().expect("runs")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn observed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/observed").join(name)
}

fn record_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("metadata/authority.record")).expect("a record")
}

/// A whole operator session: bootstrap, a denied dry run, a promotion, history, a forced
/// promotion, a stale expectation, a held lock.
/// Waits (at most 5 s) until `dir`'s store lock is free after this process dropped its handle:
/// a tool another test of this process spawned meanwhile keeps the lock's descriptor until its
/// exec, so the lock is free a moment later, not at once.
fn wait_unlocked(dir: &Path) {
    let free = (0..500).any(|_| {
        FileAuthorityStore::open(dir).is_ok() || {
            std::thread::sleep(std::time::Duration::from_millis(10));
            false
        }
    });
    assert!(free, "the lock stayed held after its holder was dropped");
}

#[test]
fn an_operator_session() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let lagging = observed("lagging.json");
    let caught_up = observed("caught-up.json");

    let out = run(&dir, &["bootstrap", "node-0"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("in {}", dir.display())), "names where: {}", stdout(&out));
    assert_eq!(code(&run(&dir, &["bootstrap", "node-9"])), 1, "a second bootstrap is refused");

    // A dry run denies the lagging replica, exit 4, and changes nothing.
    let before = record_bytes(&dir);
    let out = run(&dir, &["promote", "node-2", "--observed", lagging.to_str().unwrap(), "--dry-run"]);
    assert_eq!(code(&out), 4, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("DENIED") && stdout(&out).contains("P6-S1"), "{}", stdout(&out));
    assert_eq!(record_bytes(&dir), before);

    // The caught-up replica is promoted: exit 0, epoch 2.
    let out =
        run(&dir, &["promote", "node-1", "--observed", caught_up.to_str().unwrap(), "--request-id", "op-1"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("PROMOTED"), "{}", stdout(&out));
    assert_eq!(read_record(&dir).unwrap().unwrap().epoch().get(), 2);

    // The same observation is now stale: --expect-epoch 1 decides nothing, exit 5.
    let before = record_bytes(&dir);
    let out =
        run(&dir, &["promote", "node-1", "--observed", caught_up.to_str().unwrap(), "--expect-epoch", "1"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("expected epoch 1"), "{}", stderr(&out));
    assert_eq!(record_bytes(&dir), before);

    // node-1's host is unreachable: the operator forces node-2, which holds everything.
    let forced = temp.path().join("forced.json");
    std::fs::write(
        &forced,
        r#"{
          "nodes": [{"id": "node-2", "replication": "ReplicaActive", "position": {"epoch": 2, "lsn": 20},
                     "history": [{"epoch": 1, "start": 0}, {"epoch": 2, "start": 12}],
                     "mvcc": {"visible_commit": 20, "applying": null}}],
          "old_primary": "Unknown",
          "acknowledged": {"epoch": 2, "lsn": 20}
        }"#,
    )
    .unwrap();
    let forced = forced.to_str().unwrap();
    let out = run(&dir, &["promote", "node-2", "--observed", forced, "--expect-epoch", "2"]);
    assert_eq!(code(&out), 4, "without force an unknown old primary denies: {}", stdout(&out));
    let out = run(
        &dir,
        &[
            "promote",
            "node-2",
            "--observed",
            forced,
            "--force",
            "--reason",
            "node-1 host unreachable",
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let explanation: PromotionExplanation = serde_json::from_str(&stdout(&out)).expect("JSON explanation");
    assert_eq!(explanation.request.reason.as_deref(), Some("node-1 host unreachable"));

    // History: newest first, every epoch, the forced one with its reason.
    let out = run(&dir, &["history"]);
    assert_eq!(code(&out), 0);
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("epoch 3 primary node-2") && lines[0].contains("force=carried_the_decision")
    );
    assert!(lines[0].contains("\"node-1 host unreachable\""), "{lines:?}");
    assert!(lines[1].starts_with("epoch 2 primary node-1") && lines[1].contains("request_id=op-1"));
    assert!(lines[2].starts_with("epoch 1 primary node-0") && lines[2].ends_with("bootstrap"));
    let json: serde_json::Value = serde_json::from_str(&stdout(&run(&dir, &["history", "--json"]))).unwrap();
    assert_eq!(json[0]["request"]["force"], "carried_the_decision");

    // Another controller holds the directory: exit 1, nothing changed.
    let before = record_bytes(&dir);
    let holder = FileAuthorityStore::open(&dir).unwrap();
    let out = run(&dir, &["promote", "node-1", "--observed", caught_up.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("locked"), "{}", stderr(&out));
    drop(holder);
    wait_unlocked(&dir);
    assert_eq!(record_bytes(&dir), before);

    let out = run(
        &dir,
        &["--metrics", "promote", "node-1", "--observed", caught_up.to_str().unwrap(), "--dry-run"],
    );
    assert!(stdout(&out).contains("replication_promotion_requests_total"), "{}", stdout(&out));

    let out = run(&dir, &["inspect", "--json"]);
    assert_eq!(code(&out), 0);
    let record: AuthorityRecord = serde_json::from_str(&stdout(&out)).expect("the record's JSON form");
    assert_eq!(record.epoch().get(), 3);
}

/// Every usage error exits 2 with the usage, and creates nothing.
#[test]
fn usage_errors_exit_2_and_create_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("never");
    let bad_field = temp.path().join("bad-field.json");
    std::fs::write(
        &bad_field,
        r#"{"nodes": [], "old_primary": "Unknown", "acknowledged": null, "extra": 1}"#,
    )
    .unwrap();
    let bad_value = temp.path().join("bad-value.json");
    std::fs::write(
        &bad_value,
        r#"{"nodes": [{"id": "node-1", "replication": "ReplicaActive", "position": {"epoch": 1, "lsn": "x"}}],
            "old_primary": "Unknown", "acknowledged": null}"#,
    )
    .unwrap();
    let (bad_field, bad_value) = (bad_field.to_str().unwrap(), bad_value.to_str().unwrap());
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["frobnicate"],
        vec!["inspect", "--no-such-flag"],
        vec!["bootstrap"],
        vec!["bootstrap", "not a node id!"],
        vec!["promote", "node-1"],
        vec!["promote", "node-1", "--observed", bad_field, "--force"],
        vec!["promote", "node-1", "--observed", bad_field, "--expect-epoch", "abc"],
        vec!["promote", "", "--observed", bad_field],
        vec!["promote", "node-1", "--observed", bad_field],
        vec!["promote", "node-1", "--observed", bad_value],
        vec!["--etcd", "http://127.0.0.1:1", "--key", "/k", "inspect"],
        vec!["--etcd-user", "root", "inspect"],
        vec!["--etcd-cert", "c.pem", "inspect"],
    ];
    for args in &cases {
        let out = run(&dir, args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty(), "{args:?}: says why");
        assert!(!dir.exists(), "{args:?} created {}", dir.display());
    }
    let out = run(&dir, &["promote", "node-1", "--observed", bad_field]);
    assert!(stderr(&out).contains("extra"), "names the unknown field: {}", stderr(&out));
    let out = run(&dir, &["promote", "node-1", "--observed", bad_value]);
    assert!(stderr(&out).contains("nodes[0].position.lsn"), "names the bad field: {}", stderr(&out));
    let out = bin().args(["--data-dir", "", "inspect"]).output().unwrap();
    assert_eq!(code(&out), 2, "an empty data directory path is a usage error");
    for help in [vec!["--help"], vec!["promote", "--help"], vec!["history", "--help"]] {
        let out = bin().args(&help).output().unwrap();
        assert_eq!(code(&out), 0, "{help:?}");
        assert!(stdout(&out).contains("Usage"), "{help:?} prints to stdout");
    }
    assert!(stdout(&bin().arg("--help").output().unwrap()).contains("Exit codes"));
}

/// A missing data directory is not an empty store, and inspect tells no record from garbage.
#[test]
fn inspect_tells_missing_empty_and_invalid_apart() {
    let temp = tempfile::tempdir().unwrap();
    let missing = temp.path().join("missing");
    let out = run(&missing, &["inspect"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert!(!missing.exists());
    let empty = temp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_eq!(code(&run(&empty, &["inspect"])), 3);
    let dir = temp.path().join("data");
    assert_eq!(code(&run(&dir, &["bootstrap", "node-0"])), 0);
    std::fs::write(dir.join("metadata/authority.record"), b"this is not a record at all").unwrap();
    let out = run(&dir, &["inspect"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("bad magic"), "{}", stderr(&out));
}

/// The example observations give the same verdict through the tool as through the library.
#[test]
fn example_observations_decide_as_the_library_does() {
    for (file, candidate, expected) in [("caught-up.json", "node-1", 0), ("lagging.json", "node-2", 4)] {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("data");
        assert_eq!(code(&run(&dir, &["bootstrap", "node-0"])), 0);
        let text = std::fs::read_to_string(observed(file)).unwrap();
        let observation = Observation::from_json(&text).unwrap();
        let record = read_record(&dir).unwrap().unwrap();
        let request = PromotionRequest::builder(candidate).build().unwrap();
        let inputs = observation.over(Some(record.view()));
        let library = PromotionExplanation::of_assessment(
            &request,
            &assess(PromotionPolicy::Enabled, &request, &inputs),
        );
        let path = observed(file);
        let out =
            run(&dir, &["promote", candidate, "--observed", path.to_str().unwrap(), "--dry-run", "--json"]);
        assert_eq!(code(&out), expected, "{file}: {}", stderr(&out));
        let tool: PromotionExplanation = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(tool, library, "{file}");
        // And from stdin.
        let mut child = bin()
            .arg("--data-dir")
            .arg(&dir)
            .args(["promote", candidate, "--observed", "-", "--dry-run", "--json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(code(&out), expected);
        assert_eq!(serde_json::from_str::<PromotionExplanation>(&stdout(&out)).unwrap(), library);
    }
}

/// `promote --etcd` against a scripted gateway that holds node-0's epoch 1 and answers the
/// commit as `on_txn` does.
fn promote_through(on_txn: OnTransaction, requests: usize) -> (Output, Vec<String>) {
    let record = AuthorityRecord::bootstrap(NodeId::new("node-0").unwrap()).to_bytes().unwrap();
    let gateway = ScriptedGateway::start(Some(record), on_txn, requests).unwrap();
    let caught_up = observed("caught-up.json");
    let out = bin()
        .args([
            "--etcd",
            gateway.endpoint(),
            "--key",
            "/aerodb/t/authority",
            "promote",
            "node-1",
            "--observed",
        ])
        .arg(&caught_up)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (out, gateway.finish())
}

/// A commit whose outcome is unknown exits 1, and a fresh read, not a retry, says what became
/// of it (here: it did not apply).
#[test]
fn an_unknown_commit_outcome_exits_1_and_recovery_decides() {
    let (out, paths) = promote_through(OnTransaction::HangUp, 7);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stdout(&out).contains("NOT COMPLETED (commit failed)"), "{}", stdout(&out));
    assert!(stderr(&out).contains("recovery finds that it did not apply (epoch 1)"), "{}", stderr(&out));
    assert_eq!(paths.iter().filter(|p| p.as_str() == "/v3/kv/txn").count(), 1, "never retried: {paths:?}");
}

/// A commit that loses to a rival exits 5; nothing was written, so nothing is recovered.
#[test]
fn a_lost_race_exits_5() {
    let (out, paths) = promote_through(OnTransaction::Conflict, 5);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(!stderr(&out).contains("recovery finds"), "{}", stderr(&out));
    assert_eq!(paths.last().map(String::as_str), Some("/v3/kv/txn"), "{paths:?}");
}

/// An observation file is one JSON object in canonical form: data after it (here a second object
/// saying the old primary is active), a struct in array form, or a number beyond 64 bits is a
/// usage error naming where, and nothing is decided or written.
#[test]
fn observation_files_are_read_strictly() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    assert_eq!(code(&run(&dir, &["bootstrap", "node-0"])), 0);
    let before = record_bytes(&dir);
    let good = std::fs::read_to_string(observed("caught-up.json")).unwrap();
    let cases = [
        ("trailing", format!("{good}\n{{\"old_primary\": \"KnownActive\"}}\n"), "trailing"),
        ("array-form", good.replace(r#"{ "epoch": 1, "lsn": 12 }"#, "[1, 12]"), "named fields"),
        ("too-large", good.replacen(r#""lsn": 12"#, r#""lsn": 18446744073709551616"#, 1), "too large"),
    ];
    for (name, text, says) in cases {
        assert_ne!(text, good, "{name} changed nothing");
        let file = temp.path().join(format!("{name}.json"));
        std::fs::write(&file, &text).unwrap();
        let out = run(&dir, &["promote", "node-1", "--observed", file.to_str().unwrap()]);
        assert_eq!(code(&out), 2, "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{name}: {}", stderr(&out));
        assert_eq!(record_bytes(&dir), before, "{name} wrote nothing");
    }
    let file = temp.path().join("too-large.json");
    let out = run(&dir, &["promote", "node-1", "--observed", file.to_str().unwrap()]);
    assert!(stderr(&out).contains("nodes[0].position.lsn"), "{}", stderr(&out));
    // The file as written decides.
    let file = temp.path().join("good.json");
    std::fs::write(&file, &good).unwrap();
    assert_eq!(code(&run(&dir, &["promote", "node-1", "--observed", file.to_str().unwrap()])), 0);
}

/// The authority only moves forward: `inspect --at-least` refuses a record below a remembered
/// epoch (exit 5); a deleted record is refused as went back, not as a fresh store, and nothing
/// bootstraps over it; `start-over` is explicit, with a reason, above every epoch that was.
#[test]
fn a_store_that_went_back_is_refused_and_started_over_explicitly() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    assert_eq!(code(&run(&dir, &["bootstrap", "node-0"])), 0);
    let caught_up = observed("caught-up.json");
    assert_eq!(code(&run(&dir, &["promote", "node-1", "--observed", caught_up.to_str().unwrap()])), 0);
    assert_eq!(code(&run(&dir, &["inspect", "--at-least", "2"])), 0);
    let out = run(&dir, &["inspect", "--at-least", "3"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("went back"), "{}", stderr(&out));

    std::fs::remove_file(dir.join("metadata/authority.record")).unwrap();
    let out = run(&dir, &["inspect"]);
    assert_eq!(code(&out), 1, "a deleted record is not an empty store: {}", stderr(&out));
    assert!(stderr(&out).contains("went back"), "{}", stderr(&out));
    let out = run(&dir, &["bootstrap", "node-9"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(!dir.join("metadata/authority.record").exists(), "no bootstrap over a store that held epoch 2");

    let reason = "record deleted by mistake; nodes report at most epoch 2";
    let out = run(&dir, &["start-over", "node-1", "--above", "1", "--start", "700", "--reason", reason]);
    assert_eq!(code(&out), 4, "below what the store held: {}", stderr(&out));
    let out = run(&dir, &["start-over", "node-1", "--above", "2", "--start", "700", "--reason", ""]);
    assert_eq!(code(&out), 4, "a reason is required: {}", stderr(&out));
    let out = run(&dir, &["start-over", "node-1", "--above", "2", "--start", "700", "--reason", reason]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("epoch 3"), "{}", stdout(&out));
    let out = run(&dir, &["inspect", "--json", "--at-least", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let record: AuthorityRecord = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!((record.epoch().get(), record.primary().as_str()), (3, "node-1"));
    assert_eq!(record.request().unwrap().reason.as_deref(), Some(reason));
}

/// `candidates`: every node but the primary with its verdict; for a refused one the evidence it
/// lacks, each item on its own line. Exit 0 when some node would be approved.
#[test]
fn candidates_name_the_missing_evidence_and_exit_0_when_one_is_approvable() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    assert_eq!(code(&run(&dir, &["bootstrap", "node-0"])), 0);
    let before = record_bytes(&dir);
    let lagging = observed("lagging.json");
    let out = run(&dir, &["candidates", "--observed", lagging.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("node-1: WOULD APPROVE: epoch 1 to 2 with node-1 as primary"), "{text}");
    assert!(
        text.contains("node-2: DENIED: the candidate's WAL ends at 1/8, before the acknowledged position 1/12\n  missing: flush ≥ 1/12 on node-2\n"),
        "{text}"
    );
    assert!(!text.contains("node-0"), "the recorded primary is no candidate: {text}");
    assert_eq!(record_bytes(&dir), before, "nothing written");
    let help = stdout(&bin().arg("--help").output().unwrap());
    assert!(
        help.lines().any(|l| l.trim_start().starts_with("candidates ")
            && l.contains("Every node but the recorded primary")),
        "{help}"
    );
    assert!(help.contains("no\nnode would be approved (candidates)"), "{help}");
}

/// No node approvable: exit 4, each refused node's missing evidence printed, the primary's
/// report read from the store (its synchronous rule names a standby nobody observed), and the
/// same as JSON.
#[test]
fn candidates_exit_4_when_none_is_approvable_and_read_the_primary_report() {
    use aerodb_promotion::{AuthorityStore, PrimaryReport, Stopped, SyncRule};
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    assert_eq!(code(&run(&dir, &["bootstrap", "node-0"])), 0);
    {
        // node-0's agent stated it stopped (not cleanly): the rule ANY 1 (node-1, node-3) bounds
        // what was acknowledged once 2 of its standbys are observed; node-3 was not.
        let mut store = FileAuthorityStore::open(&dir).unwrap();
        let rule: SyncRule = "ANY 1 (node-1, node-3)".parse().unwrap();
        let checkpoint = aerodb_core::WalPosition::new(aerodb_core::Epoch::new(1), aerodb_core::Lsn::new(5));
        let report = PrimaryReport::new(aerodb_core::Epoch::new(1), NodeId::new("node-0").unwrap())
            .with_synchronous(vec![rule])
            .unwrap()
            .with_stopped(Stopped { checkpoint, clean: false });
        store.swap_report(None, &report).unwrap();
    }
    wait_unlocked(&dir);
    let observation = serde_json::json!({
        "nodes": [
            {"id": "node-1", "replication": "ReplicaActive", "position": {"epoch": 1, "lsn": 12},
             "history": [{"epoch": 1, "start": 0}], "mvcc": {"visible_commit": 12, "applying": null}},
            {"id": "node-2", "replication": "ReplicaActive", "position": {"epoch": 1, "lsn": 8},
             "history": null, "mvcc": {"visible_commit": 8, "applying": null}},
            {"id": "node-4", "replication": {"ReplicationHalted": {"reason": "WalGap"}},
             "position": {"epoch": 1, "lsn": 12}, "history": [{"epoch": 1, "start": 0}], "mvcc": null}
        ],
        "old_primary": "Unknown",
        "acknowledged": null
    });
    let file = temp.path().join("observed.json");
    std::fs::write(&file, serde_json::to_string_pretty(&observation).unwrap()).unwrap();

    let out = run(&dir, &["candidates", "--observed", file.to_str().unwrap()]);
    assert_eq!(code(&out), 4, "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("node-1: DENIED: too few synchronous standbys observed to bound what was acknowledged: 1 of the 2 needed\n  missing: node-3 observed (a named synchronous standby), its WAL ending at or before 1/12\n"),
        "{text}"
    );
    assert!(text.contains("node-2: DENIED:"), "{text}");
    assert!(text.contains("  missing: node-2's epoch history known: [1@0] (the authority's)\n"), "{text}");
    assert!(text.contains("node-4: DENIED: the candidate's replication is halted"), "{text}");
    assert!(text.contains("  no evidence changes this: the candidate's replication is halted"), "{text}");
    assert!(text.ends_with("no node would be approved\n"), "{text}");

    let out = run(&dir, &["candidates", "--observed", file.to_str().unwrap(), "--json"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let nodes = json["nodes"].as_array().unwrap();
    let ids: Vec<&str> = nodes.iter().map(|n| n["node"].as_str().unwrap()).collect();
    assert_eq!(ids, ["node-1", "node-2", "node-4"]);
    assert_eq!(
        nodes[0]["remedy"],
        serde_json::json!({"kind": "missing", "evidence": [
            {"kind": "observed", "node": "node-3", "at_most": {"epoch": 1, "lsn": 12}}
        ]})
    );
    assert_eq!(nodes[2]["remedy"]["kind"], "unfixable");
    assert_eq!(nodes[2]["remedy"]["blocker"]["reason"]["kind"], "candidate_halted");
    // The library's own answer, byte for byte.
    let parsed: aerodb_promotion::Candidates = serde_json::from_value(json).unwrap();
    assert!(!parsed.any_approved());
}
