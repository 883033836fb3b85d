//! The runtime-checked baseline of the lifecycle benchmark does exactly what `Promotion<S>`
//! does — same outcomes, records, events and metrics — and finds at run time the misuse the
//! typestate refuses at compile time.

mod common;

use aerodb_promotion::testing::events::Captured;
use aerodb_promotion::testing::runtime::{RuntimeError, RuntimeMachine};
use aerodb_promotion::testing::{MemoryStore, caught_up_inputs};
use aerodb_promotion::*;
use common::*;

/// How an attempt ended, comparable across the two machines.
#[derive(Debug, PartialEq)]
enum End {
    Rejected(Rejection),
    Denied(Denial),
    Committed(Box<Committed>),
    CommitFailed(String),
}

fn typestate<St: AuthorityStore>(
    store: &mut St,
    request: PromotionRequest,
    inputs: &ValidationInputs,
    policy: PromotionPolicy,
) -> End {
    match Promotion::new(store.slot()).request(request).begin_validation(policy, inputs) {
        Err(rejected) => End::Rejected(rejected.rejection),
        Ok(validating) => match validating.decide(inputs) {
            Decision::Denied(denied) => End::Denied(denied.conclude().1),
            Decision::Approved(approved) => match approved.begin_transition().commit(store) {
                Ok(succeeded) => End::Committed(Box::new(succeeded.complete().1)),
                Err(failure) => End::CommitFailed(failure.error().to_string()),
            },
        },
    }
}

fn runtime<St: AuthorityStore>(
    store: &mut St,
    request: PromotionRequest,
    inputs: &ValidationInputs,
    policy: PromotionPolicy,
) -> End {
    let decided = RuntimeMachine::new(store.slot())
        .request(request)
        .and_then(|m| m.begin_validation(policy, inputs))
        .and_then(|m| m.decide(inputs));
    let ended = decided.and_then(|m| match m.kind() {
        StateKind::PromotionDenied => m.conclude().map(|(_, denial)| End::Denied(denial)),
        _ => m
            .begin_transition()
            .and_then(|m| m.commit(store))
            .and_then(RuntimeMachine::complete)
            .map(|(_, committed)| End::Committed(Box::new(committed))),
    });
    match ended {
        Ok(end) => end,
        Err(RuntimeError::Rejected(rejection)) => End::Rejected(rejection),
        Err(RuntimeError::Commit(error)) => End::CommitFailed(error.to_string()),
        Err(misuse) => panic!("the runtime machine was driven wrongly: {misuse}"),
    }
}

type Attempt<St> = fn(&mut St, PromotionRequest, &ValidationInputs, PromotionPolicy) -> End;

/// Everything one machine leaves behind.
#[derive(Debug, PartialEq)]
struct Run {
    end: End,
    events: Vec<Captured>,
    metrics: MetricsSnapshot,
    durable: Option<AuthorityRecord>,
    slot_free: bool,
}

fn run<St: AuthorityStore>(
    mut store: St,
    machine: Attempt<St>,
    request: PromotionRequest,
    inputs: &ValidationInputs,
    policy: PromotionPolicy,
) -> Run {
    let capture = Capture::default();
    let end =
        tracing::subscriber::with_default(capture.clone(), || machine(&mut store, request, inputs, policy));
    Run {
        end,
        events: capture.take(),
        metrics: store.slot().metrics().snapshot(),
        durable: store.load().unwrap(),
        slot_free: !store.slot().is_busy(),
    }
}

/// A store at epoch 1 and inputs under which promoting `replica-1` is safe.
fn bootstrapped() -> (MemoryStore, ValidationInputs) {
    let mut store = MemoryStore::default();
    let record = store.bootstrap(id("primary-0")).unwrap();
    let inputs = caught_up_inputs(&record, id("replica-1"), 50);
    (store, inputs)
}

/// Both machines on identical stores; returns the typestate's run after checking they agree.
fn agree<St: AuthorityStore>(
    fresh: impl Fn() -> St,
    request: &PromotionRequest,
    inputs: &ValidationInputs,
    policy: PromotionPolicy,
) -> Run {
    let typed = run(fresh(), typestate::<St>, request.clone(), inputs, policy);
    let checked = run(fresh(), runtime::<St>, request.clone(), inputs, policy);
    assert_eq!(typed, checked, "the typestate and the runtime machine must behave identically");
    assert!(typed.slot_free, "every ending frees the slot");
    typed
}

#[test]
fn both_machines_agree_on_every_ending() {
    init_tracing();
    let fresh = || bootstrapped().0;
    let inputs = bootstrapped().1;
    let asked = PromotionRequest::builder("replica-1").reason("host lost").build().unwrap();

    let success = agree(fresh, &asked, &inputs, PromotionPolicy::Enabled);
    assert!(matches!(success.end, End::Committed(_)), "{:?}", success.end);
    assert_eq!(success.events.len(), 6);
    assert_eq!(success.metrics.success_total, 1);

    let lagging = inputs.clone().with_acknowledged(pos(1, 60));
    let denied = agree(fresh, &asked, &lagging, PromotionPolicy::Enabled);
    assert!(matches!(denied.end, End::Denied(_)), "{:?}", denied.end);

    let disabled = agree(fresh, &asked, &inputs, PromotionPolicy::Disabled);
    assert_eq!(disabled.end, End::Rejected(Rejection::Disabled));

    let unknown = agree(fresh, &request("replica-9"), &inputs, PromotionPolicy::Enabled);
    assert!(matches!(unknown.end, End::Rejected(Rejection::UnknownCandidate { .. })), "{:?}", unknown.end);

    // The authority moved on after the inputs were gathered: both fail closed at the commit.
    let moved = || {
        let mut store = fresh();
        let other = caught_up_inputs(&store.load().unwrap().unwrap(), id("replica-2"), 50);
        let _ =
            approve(&store, "replica-2", &other).begin_transition().commit(&mut store).unwrap().complete();
        store
    };
    let conflict = agree(moved, &asked, &inputs, PromotionPolicy::Enabled);
    assert!(matches!(conflict.end, End::CommitFailed(_)), "{:?}", conflict.end);

    let failing = || {
        let mut store = FailingCommits::default();
        store.bootstrap(id("primary-0")).unwrap();
        store
    };
    let failed = agree(failing, &asked, &inputs, PromotionPolicy::Enabled);
    assert!(matches!(failed.end, End::CommitFailed(_)), "{:?}", failed.end);
    assert_eq!(failed.metrics.crash_abort_total, 1);
}

type Step = fn(RuntimeMachine, &mut MemoryStore, &ValidationInputs) -> Result<RuntimeMachine, RuntimeError>;

/// Every step of the runtime machine, with the state it is allowed from.
const STEPS: [(&str, StateKind, Step); 7] = [
    ("request", StateKind::Steady, |m, _, _| m.request(request("replica-1"))),
    ("begin_validation", StateKind::PromotionRequested, |m, _, inputs| {
        m.begin_validation(PromotionPolicy::Enabled, inputs)
    }),
    ("decide", StateKind::PromotionValidating, |m, _, inputs| m.decide(inputs)),
    ("begin_transition", StateKind::PromotionApproved, |m, _, _| m.begin_transition()),
    ("commit", StateKind::AuthorityTransitioning, |m, store, _| m.commit(store)),
    ("complete", StateKind::PromotionSucceeded, |m, _, _| m.complete().map(|(m, _)| m)),
    ("conclude", StateKind::PromotionDenied, |m, _, _| m.conclude().map(|(m, _)| m)),
];

/// A fresh machine driven into `kind`, with its store and inputs.
fn machine_in(kind: StateKind) -> (RuntimeMachine, MemoryStore, ValidationInputs) {
    let (mut store, mut inputs) = bootstrapped();
    if kind == StateKind::PromotionDenied {
        inputs.acknowledged = Some(pos(1, 60));
    }
    let path = match kind {
        StateKind::PromotionDenied => 3,
        other => STEPS.iter().position(|(_, from, _)| *from == other).unwrap(),
    };
    let mut machine = RuntimeMachine::new(store.slot());
    for (_, _, step) in &STEPS[..path] {
        machine = step(machine, &mut store, &inputs).unwrap();
    }
    assert_eq!(machine.kind(), kind);
    (machine, store, inputs)
}

#[test]
fn every_step_from_a_wrong_state_is_misuse_and_from_its_own_state_an_allowed_edge() {
    init_tracing();
    let mut misuses = 0;
    for state in StateKind::ALL {
        for (name, from, step) in STEPS {
            let (machine, mut store, inputs) = machine_in(state);
            match step(machine, &mut store, &inputs) {
                Ok(next) => {
                    assert_eq!(from, state, "`{name}` must be refused in {state}");
                    assert!(state.may_transition_to(next.kind()), "{state} → {} via `{name}`", next.kind());
                }
                Err(RuntimeError::Misuse { state: found, step }) => {
                    assert_ne!(from, state, "`{name}` must be allowed in {state}");
                    assert_eq!((found, step), (state, name));
                    misuses += 1;
                }
                Err(other) => panic!("`{name}` in {state}: {other}"),
            }
            assert!(!store.slot().is_busy(), "a refused step frees the slot");
        }
    }
    assert_eq!(misuses, 7 * 7 - 7);
}
