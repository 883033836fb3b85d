//! Trace validation: a log of the events the real components emitted (names of
//! `aerodb_promotion::event_names`), each tagged with the controller that emitted it, is
//! replayed through the model, which must allow each step after some steps of the environment
//! (crashes, restarts, writes, replication, rebinds, and the late fate of a commit whose answer
//! was lost); the first step it forbids is the answer.
//!
//! The events name no controller: the recorder tags each with the controller (store handle or
//! process) it came from. An attempt's model step (read, decide, send) is placed where the
//! attempt's `requested` event is, since the controller read the record just before it; a
//! `requested` attempt that never reaches `transition_started` sent nothing and is no step.
//!
//! [`parse_log`] reads the events of a process that logs them as text (`aerodb-promote`'s
//! stderr) into the same [`Event`]s.

use std::collections::{BTreeMap, HashSet};

use aerodb_promotion::EVENT_TARGET;
use aerodb_promotion::event_names as names;
use stateright::Model;

use crate::model::{Action, ProtocolModel, State};

/// A protocol step a real event stands for; `ctl` is the controller that emitted it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `requested` … `transition_started`: controller `ctl` read the authority, approved
    /// `candidate` and sends its commit for `new_epoch`.
    Started {
        /// The controller.
        ctl: u8,
        /// The candidate's node index.
        candidate: u8,
        /// The epoch the commit proposes (`transition_started`'s `new_epoch`).
        new_epoch: u64,
    },
    /// `transition_completed`: `ctl`'s commit made `primary` the authority at `epoch`.
    Committed {
        /// The controller.
        ctl: u8,
        /// The new epoch.
        epoch: u64,
        /// The new primary's node index.
        primary: u8,
    },
    /// `completed` with outcome `conflict`: the store refused `ctl`'s commit, nothing written.
    Refused {
        /// The controller.
        ctl: u8,
    },
    /// `aborted_on_crash` of a sent commit: its outcome is unknown to `ctl`; it may still apply.
    Aborted {
        /// The controller.
        ctl: u8,
    },
    /// `aborted_on_crash` without a request, at a file store's open: an interrupted commit's
    /// temporary file was removed; that commit never reached its rename, so it is lost.
    Recovered {
        /// The controller that opened the store.
        ctl: u8,
    },
}

/// Why a log was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct Forbidden {
    /// The index of the first step the model forbids.
    pub index: usize,
    /// That step.
    pub step: Step,
}

/// One recorded event: the controller that emitted it, its name and its fields as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The controller (store handle or process) it came from.
    pub ctl: u8,
    /// The event name.
    pub name: String,
    /// Field name → value as text.
    pub fields: BTreeMap<String, String>,
}

/// The model's node index of a node id `n<index>`.
fn index_of(id: &str) -> Option<u8> {
    id.strip_prefix('n')?.parse().ok()
}

/// The protocol steps of a log. Events inside a controller's one model step (validation,
/// `completed` other than a conflict) are no step. An event missing a field the model needs is
/// refused as `Err` naming it.
pub fn steps_of(events: &[Event]) -> Result<Vec<Step>, String> {
    // Per controller: the index in `steps` of its open attempt's `Started`, if any.
    let mut open: BTreeMap<u8, usize> = BTreeMap::new();
    let mut steps: Vec<Option<Step>> = Vec::new();
    for event in events {
        let (ctl, name) = (event.ctl, event.name.as_str());
        let field = |key: &str| {
            event.fields.get(key).map(String::as_str).ok_or_else(|| format!("{name} without {key}"))
        };
        let node = |key: &str| field(key).and_then(|id| index_of(id).ok_or_else(|| format!("{name}: {id}")));
        let number =
            |key: &str| field(key).and_then(|v| v.parse::<u64>().map_err(|_| format!("{name}: {key}={v}")));
        match name {
            names::REQUESTED => {
                // A placeholder until `transition_started` says the commit was sent.
                open.insert(ctl, steps.len());
                steps.push(None);
            }
            names::TRANSITION_STARTED => {
                let at = open.get(&ctl).copied().ok_or_else(|| format!("{name} without requested"))?;
                steps[at] = Some(Step::Started {
                    ctl,
                    candidate: node("requested_replica_id")?,
                    new_epoch: number("new_epoch")?,
                });
            }
            names::TRANSITION_COMPLETED => {
                steps.push(Some(Step::Committed {
                    ctl,
                    epoch: number("epoch")?,
                    primary: node("new_primary_id")?,
                }));
                open.remove(&ctl);
            }
            names::COMPLETED => {
                if field("outcome")? == "conflict" {
                    steps.push(Some(Step::Refused { ctl }));
                }
                open.remove(&ctl);
            }
            names::ABORTED_ON_CRASH if !event.fields.contains_key("requested_replica_id") => {
                steps.push(Some(Step::Recovered { ctl }));
            }
            names::ABORTED_ON_CRASH => {
                // Aborted before its commit was sent: nothing left the controller, no step.
                if let Some(at) = open.remove(&ctl)
                    && steps[at].is_some()
                {
                    steps.push(Some(Step::Aborted { ctl }));
                }
            }
            _ => {}
        }
    }
    Ok(steps.into_iter().flatten().collect())
}

/// The commit in flight at `msg`, if it is one whose sender no longer waits for it.
fn unawaited(state: &State, msg: u8) -> bool {
    state.in_flight.get(usize::from(msg)).is_some_and(|m| !m.awaited)
}

/// Steps of the environment, between two logged steps: everything but a controller's own
/// attempt, answer and lost answer; a commit whose answer was lost applies or is lost silently.
fn environment(state: &State, action: &Action) -> bool {
    match *action {
        Action::Attempt { .. } | Action::LoseAnswer { .. } => false,
        Action::Deliver { msg } | Action::Drop { msg } => unawaited(state, msg),
        _ => true,
    }
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
            for action in actions.into_iter().filter(|a| environment(state, a)) {
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
    // The awaited commit of controller `ctl` at `msg`.
    let answer_to =
        |ctl: u8, msg: u8| before.in_flight.get(usize::from(msg)).is_some_and(|m| m.ctl == ctl && m.awaited);
    match (step, *action) {
        (Step::Started { ctl, candidate, new_epoch }, Action::Attempt { ctl: c, candidate: n }) => {
            let read = after.in_flight.last().and_then(|m| m.observed.record.as_ref()).map(|r| r.epoch());
            c == *ctl && n == *candidate && read.map(|e| e + 1) == Some(*new_epoch)
        }
        (Step::Committed { ctl, epoch, primary }, Action::Deliver { msg }) => {
            let named = crate::register::node_id(*primary);
            answer_to(*ctl, msg)
                && store(after) != store(before)
                && store(after) == named.map(|p| (*epoch, p))
        }
        (Step::Refused { ctl }, Action::Deliver { msg }) => {
            answer_to(*ctl, msg) && store(after) == store(before)
        }
        (Step::Aborted { ctl }, Action::LoseAnswer { ctl: c }) => c == *ctl,
        (Step::Aborted { ctl }, Action::Drop { msg }) => answer_to(*ctl, msg),
        (Step::Recovered { .. }, Action::Drop { msg }) => unawaited(before, msg),
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

/// The fields of an event that name a node.
const NODE_FIELDS: [&str; 5] =
    ["requested_replica_id", "new_primary_id", "current_primary_id", "seen_primary", "found_primary"];

/// The events of one process's log: the stderr of an `aerodb-promote` run with
/// `RUST_LOG=aerodb::promotion=info`, which `tracing-subscriber`'s `fmt` format writes one event
/// a line, `LEVEL aerodb::promotion: event="replication.promotion.X" key=value …` (text quoted
/// and escaped as Rust's `Debug` does, numbers and booleans bare). Other lines (the tool's own
/// messages) are skipped. Each event is tagged `ctl`, and each node a field names is renamed
/// from `nodes[i]` to the model's `n<i>`. A line of the event target that does not parse, or a
/// node not in `nodes`, is refused as `Err` naming it: a log is read whole or not at all.
pub fn parse_log(log: &str, ctl: u8, nodes: &[&str]) -> Result<Vec<Event>, String> {
    let target = format!("{EVENT_TARGET}: ");
    let mut events = Vec::new();
    for line in log.lines() {
        let line = strip_ansi(line);
        let Some((level, rest)) = line.split_once(&target) else { continue };
        // The level, after a timestamp if the subscriber prints one.
        if !matches!(level.split_whitespace().last(), Some("TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR")) {
            continue;
        }
        let mut fields = fields_of(rest).map_err(|e| format!("{e} in {line:?}"))?;
        let name = fields.get("event").cloned().ok_or_else(|| format!("no event field in {line:?}"))?;
        for key in NODE_FIELDS {
            if let Some(value) = fields.get_mut(key) {
                let index = nodes
                    .iter()
                    .position(|n| n == value)
                    .ok_or_else(|| format!("{name}: {key}={value} is none of the nodes {nodes:?}"))?;
                *value = format!("n{index}");
            }
        }
        events.push(Event { ctl, name, fields });
    }
    Ok(events)
}

/// `line` without ANSI colour sequences (`ESC [ … m`), should a terminal's have been kept.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `key=value` pairs separated by spaces; a quoted value unescaped.
fn fields_of(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut fields = BTreeMap::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').ok_or_else(|| format!("no value after {rest:?}"))?;
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            return Err(format!("bad field name {key:?}"));
        }
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            unquote(quoted)?
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            (after[..end].to_owned(), &after[end..])
        };
        if fields.insert(key.to_owned(), value).is_some() {
            return Err(format!("field {key} twice"));
        }
        rest = after.trim_start();
    }
    Ok(fields)
}

/// The text of a `Debug`-quoted string whose opening quote is gone, and what follows its
/// closing quote.
fn unquote(text: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &text[at + 1..])),
            '\\' => {
                let escaped = match chars.next().map(|(_, e)| e) {
                    Some('n') => '\n',
                    Some('r') => '\r',
                    Some('t') => '\t',
                    Some('0') => '\0',
                    Some(e @ ('\\' | '"' | '\'')) => e,
                    Some('u') => {
                        let hex: String = chars.by_ref().map(|(_, h)| h).take_while(|h| *h != '}').collect();
                        let code = hex.strip_prefix('{').and_then(|h| u32::from_str_radix(h, 16).ok());
                        code.and_then(char::from_u32).ok_or_else(|| format!("bad escape \\u{hex}"))?
                    }
                    other => return Err(format!("bad escape {other:?}")),
                };
                out.push(escaped);
            }
            c => out.push(c),
        }
    }
    Err("an unterminated string".to_owned())
}
