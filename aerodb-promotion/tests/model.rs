//! Model-based property test (stage 6.8): random scripts against the cluster model, with the
//! invariants checked after every step. Seeded: replay a failure with `AERODB_QC_SEED=<seed>`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use aerodb_core::testing::check;
use aerodb_promotion::event_names as names;
use aerodb_promotion::testing::cluster::{Boundary, Cluster};
use aerodb_promotion::*;
use common::*;
use quickcheck::{Arbitrary, Gen, TestResult};

const NODES: usize = 3;
const OPS_PER_SCRIPT: usize = 100;
const SCRIPTS: u64 = 100;

#[derive(Debug, Clone)]
enum Op {
    Write(usize),
    Replicate { node: usize, max: usize, partial: bool },
    Settle(usize),
    Crash(usize),
    Restart(usize),
    Rejoin(usize),
    Partition(usize),
    Heal(usize),
    Promote { node: usize, force: bool, crash_at: Option<Boundary> },
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Self {
        let node = usize::arbitrary(g) % NODES;
        match u8::arbitrary(g) % 100 {
            0..25 => Op::Write(1 + usize::arbitrary(g) % 4),
            25..50 => {
                Op::Replicate { node, max: 1 + usize::arbitrary(g) % 6, partial: u8::arbitrary(g) % 5 == 0 }
            }
            50..55 => Op::Settle(node),
            55..63 => Op::Crash(node),
            63..70 => Op::Restart(node),
            70..73 => Op::Rejoin(node),
            73..78 => Op::Partition(node),
            78..85 => Op::Heal(node),
            _ => {
                let crash_at =
                    if u8::arbitrary(g) % 4 == 0 { g.choose(&Boundary::ALL).copied() } else { None };
                Op::Promote { node, force: bool::arbitrary(g), crash_at }
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Script(Vec<Op>);

impl Arbitrary for Script {
    fn arbitrary(g: &mut Gen) -> Self {
        Script((0..OPS_PER_SCRIPT).map(|_| Op::arbitrary(g)).collect())
    }
}

static OPS_RUN: AtomicUsize = AtomicUsize::new(0);

fn run(script: &Script) -> Result<(), String> {
    let dir = temp_dir("model");
    let capture = Capture::default();
    let outcome = tracing::subscriber::with_default(capture.clone(), || -> Result<Cluster, String> {
        let mut cluster =
            Cluster::start(dir.path(), &["node-0", "node-1", "node-2"], PromotionPolicy::Enabled)
                .map_err(|e| e.to_string())?;
        let mut crashed_attempts = 0;
        for (step, op) in script.0.iter().enumerate() {
            let before = cluster.authority().epoch();
            let result = match *op {
                Op::Write(n) => {
                    cluster.write(n);
                    Ok(false)
                }
                Op::Replicate { node, max, partial } => cluster.replicate(node, max, partial).map(|_| false),
                Op::Settle(node) => cluster.settle(node).map(|()| false),
                Op::Crash(node) => cluster.crash(node).map(|()| false),
                Op::Restart(node) => cluster.restart(node).map(|()| false),
                Op::Rejoin(node) => cluster.rejoin(node).map(|_| false),
                Op::Partition(node) => cluster.partition(node).map(|()| false),
                Op::Heal(node) => cluster.heal(node).map(|()| false),
                Op::Promote { node, force, crash_at } => {
                    cluster.promote(node, force, crash_at).map(|report| {
                        crashed_attempts += usize::from(report.explanation.is_none());
                        report.promoted
                    })
                }
            };
            OPS_RUN.fetch_add(1, Ordering::Relaxed);
            let promoted = result.map_err(|e| format!("step {step} {op:?}: {e}"))?;
            let after = cluster.authority().epoch();
            let expected = if promoted { before.get() + 1 } else { before.get() };
            if after.get() != expected {
                return Err(format!("step {step} {op:?}: epoch went {before} -> {after}"));
            }
            cluster.check_invariants().map_err(|e| format!("step {step} {op:?}: {e}"))?;
        }
        let (attempts, explanations) = cluster.attempts();
        if explanations.len() + crashed_attempts != attempts {
            return Err(format!(
                "{attempts} attempts, {} explanations, {crashed_attempts} crashed",
                explanations.len()
            ));
        }
        Ok(cluster)
    })?;
    let (attempts, _) = outcome.attempts();
    let requested = capture.names().iter().filter(|n| *n == names::REQUESTED).count();
    if requested != attempts {
        return Err(format!("{attempts} attempts but {requested} requested events"));
    }
    Ok(())
}

#[test]
fn random_scripts_keep_every_invariant() {
    init_tracing();
    fn prop(script: Script) -> TestResult {
        match run(&script) {
            Ok(()) => TestResult::passed(),
            Err(violation) => TestResult::error(format!("{violation}\nscript: {:?}", script.0)),
        }
    }
    check("cluster_model", SCRIPTS, prop as fn(Script) -> TestResult);
    let ops = OPS_RUN.load(Ordering::Relaxed);
    eprintln!("cluster model: {ops} operations in {SCRIPTS} scripts, invariants checked after each");
    assert!(ops >= 10_000, "only {ops} operations ran");
}

/// The model does promote, deny and fence, so the property above is not vacuous.
#[test]
fn the_model_exercises_success_denial_and_fencing() {
    init_tracing();
    let dir = temp_dir("model-smoke");
    let mut cluster =
        Cluster::start(dir.path(), &["node-0", "node-1", "node-2"], PromotionPolicy::Enabled).unwrap();
    cluster.write(5);
    cluster.replicate(1, 5, false).unwrap();
    cluster.replicate(2, 2, false).unwrap();
    cluster.partition(0).unwrap();
    let denied = cluster.promote(2, false, None).unwrap();
    assert!(!denied.promoted);
    assert_eq!(denied.explanation.unwrap().outcome, Outcome::Denied);
    let forced = cluster.promote(1, true, None).unwrap();
    assert!(forced.promoted, "{}", forced.explanation.unwrap());
    cluster.check_invariants().unwrap();
    cluster.heal(0).unwrap();
    assert!(cluster.nodes()[0].gate().is_fenced());
    cluster.check_invariants().unwrap();
}
