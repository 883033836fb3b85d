//! [`parse_log`] reads what `aerodb-promote` writes to stderr (`tracing-subscriber`'s `fmt`
//! format, set up as the tool sets it up) into the events a capturing subscriber records of the
//! same run, node names mapped to the model's; refuses what it cannot read whole. The real
//! PostgreSQL runs' logs (`aerodb-cli/tests/trace_postgres.rs`) are read by it.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use aerodb_core::NodeId;
use aerodb_model::trace::{Event, parse_log};
use aerodb_promotion::testing::caught_up_inputs;
use aerodb_promotion::{
    AuthorityStore, Decision, FileAuthorityStore, OldPrimary, PromotionPolicy, PromotionRequest, recover,
};
use common::{Recorder, Result};

const NODES: [&str; 3] = ["pg1", "pg2", "pg3"];

/// Text a `reason` field carries quoted and escaped.
const REASON: &str = r#"pg1's "host" is gone \ for good: é, ✓"#;

/// Bootstrap pg1; promote pg2 by force with [`REASON`]; a denied attempt of pg3 (the old
/// primary's state unknown); promote pg3.
fn run(dir: &std::path::Path) -> Result<()> {
    let mut store = FileAuthorityStore::open(dir)?;
    store.bootstrap(NodeId::new("pg1")?)?;
    for (candidate, force, reason, caught_up) in
        [("pg2", true, REASON, true), ("pg3", false, "denied", false), ("pg3", false, "ok", true)]
    {
        let recovered = recover(&store)?;
        let current = recovered.authority.ok_or("no authority")?;
        let inputs = caught_up_inputs(&current, NodeId::new(candidate)?, current.start().lsn.get());
        let inputs = if caught_up { inputs } else { inputs.with_old_primary(OldPrimary::Unknown) };
        let request = PromotionRequest::builder(candidate).force(force).reason(reason).build()?;
        let validating =
            recovered.steady.request(request).begin_validation(PromotionPolicy::Enabled, &inputs)?;
        match validating.decide(&inputs) {
            Decision::Approved(approved) => {
                let done =
                    approved.begin_transition().commit(&mut store).map_err(|f| f.error().to_string())?;
                drop(done.complete());
            }
            Decision::Denied(denied) => assert!(!caught_up, "{}", denied.denial().reason()),
        }
    }
    Ok(())
}

/// A writer into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The run's log as `aerodb-promote` writes it (aerodb-cli/src/tool.rs: `fmt`, the filter
/// `aerodb::promotion=info`, no time, no colours when not on a terminal), a line of the
/// tool's own among it.
fn logged() -> Result<String> {
    let dir = tempfile::Builder::new().prefix("aerodb-model-fmt-").tempdir()?;
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_env_filter(tracing_subscriber::EnvFilter::new("aerodb::promotion=info"))
        .with_ansi(false)
        .without_time()
        .finish();
    tracing::subscriber::with_default(subscriber, || run(dir.path()))?;
    let mut text = String::from_utf8(buffer.0.lock().unwrap_or_else(PoisonError::into_inner).clone())?;
    text.push_str("aerodb-promote: a message of the tool's own\n");
    Ok(text)
}

/// The same run, recorded by the capturing subscriber, node names mapped as `parse_log` maps them.
fn captured(ctl: u8) -> Result<Vec<Event>> {
    let dir = tempfile::Builder::new().prefix("aerodb-model-fmt-").tempdir()?;
    let mut log = Recorder::default();
    log.as_ctl(ctl, || run(dir.path()))?;
    let rename = |v: &mut String| {
        if let Some(i) = NODES.iter().position(|n| n == v) {
            *v = format!("n{i}");
        }
    };
    for event in &mut log.events {
        for (key, value) in &mut event.fields {
            if key.ends_with("_id") || key.ends_with("_primary") {
                rename(value);
            }
        }
    }
    Ok(log.events)
}

#[test]
fn the_tools_log_reads_as_the_captured_events() -> Result<()> {
    let text = logged()?;
    let parsed = parse_log(&text, 1, &NODES)?;
    assert_eq!(parsed, captured(1)?, "{text}");
    // Every event: a requested, a commit, a denial, a commit.
    let names: Vec<&str> = parsed.iter().map(|e| e.name.rsplit('.').next().unwrap_or_default()).collect();
    assert_eq!(names.iter().filter(|n| **n == "transition_completed").count(), 2, "{names:?}");
    assert_eq!(names.iter().filter(|n| **n == "validation_failed").count(), 1, "{names:?}");
    assert!(parsed.iter().any(|e| e.fields.get("reason").map(String::as_str) == Some(REASON)));
    assert!(parsed.iter().any(|e| e.fields.get("new_primary_id").map(String::as_str) == Some("n2")));
    Ok(())
}

#[test]
fn what_does_not_read_whole_is_refused() -> Result<()> {
    let text = logged()?;
    // A node the mapping does not name.
    let refused = parse_log(&text, 0, &["pg1", "pg2"]).expect_err("pg3 is not mapped");
    assert!(refused.contains("pg3"), "{refused}");
    // A line of the event target cut short, an unknown escape, a line without its event.
    for bad in [
        r#" INFO aerodb::promotion: event="replication.promotion.requested" reason="cut"#,
        r#" INFO aerodb::promotion: event="replication.promotion.requested" reason="\q""#,
        r#" INFO aerodb::promotion: requested_replica_id="pg1""#,
        r#" INFO aerodb::promotion: event="replication.promotion.requested" force"#,
    ] {
        assert!(parse_log(bad, 0, &NODES).is_err(), "{bad}");
    }
    // Colours, as a terminal gets them, are no part of a value.
    let coloured = "\u{1b}[32m INFO\u{1b}[0m \u{1b}[2maerodb::promotion\u{1b}[0m\u{1b}[2m:\u{1b}[0m \
                    \u{1b}[3mevent\u{1b}[0m\u{1b}[2m=\u{1b}[0m\"replication.promotion.completed\" \
                    \u{1b}[3moutcome\u{1b}[0m\u{1b}[2m=\u{1b}[0m\"denied\"";
    // Nor is a timestamp, should the subscriber print one.
    let timed = "2026-12-02T02:00:00.000000Z  WARN aerodb::promotion: \
                 event=\"replication.promotion.completed\" outcome=\"denied\"";
    for line in [coloured, timed] {
        let events = parse_log(line, 0, &NODES)?;
        assert_eq!(events.len(), 1, "{line}");
        assert_eq!(events[0].fields.get("outcome").map(String::as_str), Some("denied"));
    }
    Ok(())
}
