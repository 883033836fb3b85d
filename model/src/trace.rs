//! Trace validation: a log of the events the real components emitted (names of
//! `aerodb_promotion::event_names`) is replayed through the model, which must allow each step
//! after some steps of the environment (crashes, restarts, writes, replication, rebinds); the
//! first step it forbids is the answer.

use std::collections::{BTreeMap, HashSet};

use aerodb_promotion::event_names as names;
use stateright::Model;

use crate::model::{Action, ProtocolModel, State};

/// A protocol step a real event stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `transition_started`: a controller approved `candidate` and sends its commit.
    Started {
        /// The candidate's node index.
        candidate: u8,
    },
    /// `transition_completed`: the commit made `primary` the authority at `epoch`.
    Committed {
        /// The new epoch.
        epoch: u64,
        /// The new primary's node index.
        primary: u8,
    },
    /// `completed` with outcome `conflict`: the store refused the commit, nothing written.
    Refused,
    /// `aborted_on_crash`: the commit's outcome is unknown to its controller.
    Aborted,
}

/// Why a log was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct Forbidden {
    /// The index of the first step the model forbids.
    pub index: usize,
    /// That step.
    pub step: Step,
}

/// The model's node index of a node id `n<index>`.
fn index_of(id: &str) -> Option<u8> {
    id.strip_prefix('n')?.parse().ok()
}

/// The protocol step of one event (`name` and its fields as text); `None` for events inside a
/// controller's one model step (requested, validation, completed without conflict). An event
/// that should carry a field and does not is refused as `Err` with its name.
pub fn step_of(name: &str, fields: &BTreeMap<String, String>) -> Result<Option<Step>, String> {
    let field =
        |key: &str| fields.get(key).map(String::as_str).ok_or_else(|| format!("{name} without {key}"));
    Ok(match name {
        names::TRANSITION_STARTED => Some(Step::Started {
            candidate: index_of(field("requested_replica_id")?).ok_or_else(|| name.to_owned())?,
        }),
        names::TRANSITION_COMPLETED => Some(Step::Committed {
            epoch: field("epoch")?.parse().map_err(|_| name.to_owned())?,
            primary: index_of(field("new_primary_id")?).ok_or_else(|| name.to_owned())?,
        }),
        names::COMPLETED if field("outcome")? == "conflict" => Some(Step::Refused),
        names::ABORTED_ON_CRASH => Some(Step::Aborted),
        _ => None,
    })
}

/// Steps of the environment, between two logged steps.
fn environment(action: &Action) -> bool {
    !matches!(
        action,
        Action::Attempt { .. } | Action::Deliver { .. } | Action::Drop { .. } | Action::LoseAnswer { .. }
    )
}

/// Every state reachable from `from` in at most `depth` environment steps, `from` included.
fn closure(model: &ProtocolModel, from: Vec<State>, depth: usize) -> Vec<State> {
    let mut seen: HashSet<State> = from.iter().cloned().collect();
    let mut all = from.clone();
    let mut layer = from;
    for _ in 0..depth {
        let mut next = Vec::new();
        for state in &layer {
            let mut actions = Vec::new();
            model.actions(state, &mut actions);
            for action in actions.into_iter().filter(environment) {
                if let Some(s) = model.next_state(state, action)
                    && seen.insert(s.clone())
                {
                    next.push(s);
                }
            }
        }
        all.extend(next.iter().cloned());
        layer = next;
    }
    all
}

/// Whether `action` from `before` to `after` is the logged `step`.
fn matches(step: &Step, action: &Action, before: &State, after: &State) -> bool {
    let store = |s: &State| s.store.as_ref().map(|r| (r.epoch(), r.0.primary()));
    match (step, action) {
        (Step::Started { candidate }, Action::Attempt { candidate: c, .. }) => c == candidate,
        (Step::Committed { epoch, primary }, Action::Deliver { .. }) => {
            let named = crate::register::node_id(*primary);
            store(after) != store(before) && store(after) == named.map(|p| (*epoch, p))
        }
        (Step::Refused, Action::Deliver { .. }) => store(after) == store(before),
        (Step::Aborted, Action::LoseAnswer { .. } | Action::Drop { .. }) => true,
        _ => false,
    }
}

/// Replays `steps` through `model`: each must be a step the model allows after at most
/// `depth` environment steps. Returns how many states remained possible at the end, or the
/// first step the model forbids.
pub fn validate(model: &ProtocolModel, steps: &[Step], depth: usize) -> Result<usize, Forbidden> {
    let mut frontier = model.init_states();
    for (index, step) in steps.iter().enumerate() {
        let mut next: Vec<State> = Vec::new();
        let mut seen: HashSet<State> = HashSet::new();
        for state in closure(model, frontier, depth) {
            let mut actions = Vec::new();
            model.actions(&state, &mut actions);
            for action in actions {
                if let Some(after) = model.next_state(&state, action)
                    && matches(step, &action, &state, &after)
                    && seen.insert(after.clone())
                {
                    next.push(after);
                }
            }
        }
        if next.is_empty() {
            return Err(Forbidden { index, step: step.clone() });
        }
        frontier = next;
    }
    Ok(frontier.len())
}
