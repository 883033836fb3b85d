//! The model: its state, its steps, and the properties checked in every reachable state.

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};

use aerodb_promotion::OldPrimary;
use stateright::{Checker, HasDiscoveries, Model, Property};

use crate::gate::Gate;
use crate::register::{self, Observed, Outcome, Rec, Register, Seen, WriteRule, node_id};
use crate::{Config, Mutant};

/// A node's durable role (its server's own state, kept across restarts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Leads its epoch.
    Primary,
    /// Follows.
    Replica,
}

/// One node: agent, gate and server state. The WAL is one entry per LSN (LSN `i + 1` at index
/// `i`), each the epoch that wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    /// Whether the process runs.
    pub up: bool,
    /// The durable role.
    pub role: Role,
    /// The write gate (volatile: rebuilt on restart).
    pub gate: Gate,
    /// The WAL: the epoch of each record, LSN 1 first.
    pub wal: Vec<u64>,
    /// The node's epoch history `(epoch, start)`.
    pub history: Vec<(u64, u64)>,
}

impl Node {
    /// The last WAL record `(epoch, lsn)`; `(1, 0)` for an empty WAL.
    pub fn end(&self) -> (u64, u64) {
        self.wal.last().map_or((1, 0), |&e| (e, self.wal.len() as u64))
    }

    /// Whether the WAL holds the record `(epoch, lsn)`.
    pub fn holds(&self, (epoch, lsn): (u64, u64)) -> bool {
        lsn == 0 || (lsn as usize).checked_sub(1).and_then(|i| self.wal.get(i)) == Some(&epoch)
    }
}

/// A controller's compare-and-swap in flight: it may be applied late, or lost.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cas {
    /// The sending controller.
    pub ctl: u8,
    /// Whether the sender still waits for the answer (it did not crash or lose it).
    pub awaited: bool,
    /// The candidate.
    pub candidate: u8,
    /// What the sender observed when it decided.
    pub observed: Observed,
}

/// The whole system.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// The store's one durable value.
    pub store: Option<Rec>,
    /// Ghost: every record ever written to the store, `(epoch, primary)`, in order.
    pub committed: Vec<(u64, u8)>,
    /// Whether each controller waits for an answer (it remembers nothing else).
    pub awaiting: Vec<bool>,
    /// Compare-and-swaps in flight, in send order.
    pub in_flight: Vec<Cas>,
    /// The nodes.
    pub nodes: Vec<Node>,
    /// The acknowledgement ledger: the highest acknowledged position.
    pub ledger: (u64, u64),
    /// Ghost: every acknowledged record `(epoch, lsn)`.
    pub acked: BTreeSet<(u64, u64)>,
    /// Ghost: `(epoch, node)` for every node that acknowledged a write in that epoch.
    pub ackers: BTreeSet<(u64, u8)>,
    /// Ghost: an acknowledgement at an epoch below the durable one happened.
    pub acked_below_durable: bool,
    /// Client writes so far.
    pub writes: u8,
    /// Node crashes so far.
    pub node_crashes: u8,
    /// Controller crashes so far.
    pub controller_crashes: u8,
}

/// One step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// The operator asks controller `ctl` to promote `candidate`: the controller loads the
    /// record, observes the nodes, runs the validator and, if approved, sends its commit.
    Attempt {
        /// The controller.
        ctl: u8,
        /// The candidate.
        candidate: u8,
    },
    /// The store applies the `msg`th compare-and-swap in flight; its answer reaches the sender.
    Deliver {
        /// Index into the messages in flight.
        msg: u8,
    },
    /// The `msg`th compare-and-swap is lost: never applied.
    Drop {
        /// Index into the messages in flight.
        msg: u8,
    },
    /// Controller `ctl` loses the answer to its commit (which may still apply) and is idle.
    LoseAnswer {
        /// The controller.
        ctl: u8,
    },
    /// Controller `ctl` crashes and restarts, remembering nothing.
    CrashController {
        /// The controller.
        ctl: u8,
    },
    /// Controller `ctl` finds no record and bootstraps `primary` (reachable only if records vanish).
    Bootstrap {
        /// The controller.
        ctl: u8,
        /// The first primary.
        primary: u8,
    },
    /// A client writes one record at `node`, if its gate admits it.
    Write {
        /// The node.
        node: u8,
    },
    /// `node` acknowledges its newest record to the client, recorded in the ledger.
    Ack {
        /// The node.
        node: u8,
    },
    /// `to` pulls one record from primary `from`, if its gate admits the sender's epoch.
    Replicate {
        /// The primary.
        from: u8,
        /// The replica.
        to: u8,
    },
    /// `node`'s agent reads the store and, named by it, becomes primary (the grant's rebind).
    Rebind {
        /// The node.
        node: u8,
    },
    /// `node` crashes; its server state survives, its gate does not.
    CrashNode {
        /// The node.
        node: u8,
    },
    /// `node` restarts from its server state; its agent reads the store and observes its epoch.
    RestartNode {
        /// The node.
        node: u8,
    },
}

/// The protocol model for one [`Config`].
#[derive(Clone, Debug)]
pub struct ProtocolModel {
    /// The bounds and the mutant.
    pub config: Config,
}

impl ProtocolModel {
    /// The model of `config`.
    pub fn new(config: Config) -> Self {
        ProtocolModel { config }
    }

    fn mutant(&self, mutant: Mutant) -> bool {
        self.config.mutant == Some(mutant)
    }

    /// The initial state: `n0` bootstrapped through the store's own `bootstrap` and leading
    /// epoch 1, every other node a replica, nothing written.
    pub fn initial(&self) -> State {
        let record = register::bootstrap(None, 0, WriteRule::CompareAndSwap).map(Rec);
        let nodes = (0..self.config.nodes)
            .map(|i| Node {
                up: true,
                role: if i == 0 { Role::Primary } else { Role::Replica },
                gate: if i == 0 {
                    Gate { epoch: 1, primary: true, fenced: false, observed: 1 }
                } else {
                    Gate::replica(1)
                },
                wal: Vec::new(),
                history: vec![(1, 0)],
            })
            .collect();
        State {
            committed: record.iter().map(|r| (r.epoch(), 0)).collect(),
            store: record,
            awaiting: vec![false; usize::from(self.config.controllers)],
            in_flight: Vec::new(),
            nodes,
            ledger: (1, 0),
            acked: BTreeSet::new(),
            ackers: BTreeSet::new(),
            acked_below_durable: false,
            writes: 0,
            node_crashes: 0,
            controller_crashes: 0,
        }
    }

    /// What controller-side observation sees now.
    fn observe(&self, state: &State) -> Observed {
        let primary = state.store.as_ref().map(|r| r.0.primary());
        let recorded =
            state.nodes.iter().enumerate().find(|(i, _)| node_id(*i as u8) == primary).map(|(_, n)| n);
        // The operator's report of the recorded primary: down is "confirmed stopped" (the
        // operator keeps it down while the attempt is live, see `restart_allowed`), a fenced
        // gate is "fenced", a writable one "known active"; up but neither: unknown (it may
        // still rebind), unless `blocked_reads_as_fenced`.
        let old_primary = match recorded {
            Some(n) if !n.up => OldPrimary::ConfirmedStopped,
            Some(n) if n.gate.fenced => OldPrimary::Fenced,
            Some(n) if n.gate.admit_write().is_some() => OldPrimary::KnownActive,
            Some(_) if self.config.blocked_reads_as_fenced => OldPrimary::Fenced,
            _ => OldPrimary::Unknown,
        };
        let nodes = state
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.up)
            .map(|(i, n)| Seen {
                node: i as u8,
                writable: n.role == Role::Primary && n.gate.admit_write().is_some(),
                end: n.end(),
                history: n.history.clone(),
            })
            .collect();
        Observed { record: state.store.clone(), nodes, old_primary, acknowledged: state.ledger }
    }

    /// The operator's promise behind "confirmed stopped": a recorded primary reported stopped
    /// by a commit still in flight stays down until that commit is applied or lost.
    fn restart_allowed(state: &State, node: u8) -> bool {
        !state.in_flight.iter().any(|m| {
            m.observed.old_primary == OldPrimary::ConfirmedStopped
                && m.observed.record.as_ref().map(|r| r.0.primary()) == node_id(node)
        })
    }

    fn named(state: &State, node: u8) -> bool {
        node_id(node).is_some() && state.store.as_ref().map(|r| r.0.primary()) == node_id(node)
    }

    /// `node` becomes the primary of `record`'s epoch, if its gate allows.
    fn lead(node: &mut Node, record: &Rec) -> bool {
        if !node.gate.assume_primary(record.epoch()) {
            return false;
        }
        node.role = Role::Primary;
        node.history =
            record.0.epoch_history().entries().iter().map(|e| (e.epoch.get(), e.start.get())).collect();
        true
    }

    fn step(&self, state: &State, action: Action) -> Option<State> {
        let mut s = state.clone();
        let c = &self.config;
        match action {
            Action::Attempt { ctl, candidate } => {
                let ready = !s.awaiting[usize::from(ctl)]
                    && s.nodes[usize::from(candidate)].up
                    && !Self::named(&s, candidate)
                    && s.store.as_ref().is_some_and(|r| r.epoch() < c.max_epoch);
                if !ready {
                    return None;
                }
                let observed = self.observe(&s);
                let loaded = observed.record.as_ref().map(|r| r.0.clone());
                let mut scratch = Register::new(loaded.clone(), loaded, WriteRule::CompareAndSwap);
                let Outcome::Committed(planned) =
                    register::attempt(&observed, candidate, c.mutant, &mut scratch)
                else {
                    return None;
                };
                if self.mutant(Mutant::PromoteBeforeDurable) {
                    Self::lead(&mut s.nodes[usize::from(candidate)], &Rec(*planned));
                }
                s.awaiting[usize::from(ctl)] = true;
                s.in_flight.push(Cas { ctl, awaited: true, candidate, observed });
            }
            Action::Deliver { msg } => {
                let m = s.in_flight.remove(usize::from(msg));
                let durable = s.store.as_ref().map(|r| r.0.clone());
                let read = m.observed.record.as_ref().map(|r| r.0.clone());
                let mut register = Register::new(read, durable, WriteRule::of(c.mutant));
                if let Outcome::Committed(record) =
                    register::attempt(&m.observed, m.candidate, c.mutant, &mut register)
                {
                    s.committed.push((record.epoch().get(), m.candidate));
                    s.store = Some(Rec(*record));
                }
                if m.awaited {
                    s.awaiting[usize::from(m.ctl)] = false;
                }
            }
            Action::Drop { msg } => {
                let m = s.in_flight.remove(usize::from(msg));
                if m.awaited {
                    s.awaiting[usize::from(m.ctl)] = false;
                }
            }
            Action::LoseAnswer { ctl } | Action::CrashController { ctl } => {
                // A lost answer and a crash are both controller faults, from one budget.
                let crash = matches!(action, Action::CrashController { .. });
                if s.controller_crashes >= c.controller_crashes || (!crash && !s.awaiting[usize::from(ctl)]) {
                    return None;
                }
                s.controller_crashes += 1;
                if crash && self.mutant(Mutant::VolatileRecord) {
                    s.store = None;
                }
                s.awaiting[usize::from(ctl)] = false;
                for m in s.in_flight.iter_mut().filter(|m| m.ctl == ctl) {
                    m.awaited = false;
                }
            }
            Action::Bootstrap { ctl, primary } => {
                if s.awaiting[usize::from(ctl)] || s.store.is_some() {
                    return None;
                }
                let record = register::bootstrap(None, primary, WriteRule::of(c.mutant))?;
                s.committed.push((record.epoch().get(), primary));
                s.store = Some(Rec(record));
            }
            Action::Write { node } => {
                let n = &mut s.nodes[usize::from(node)];
                let epoch = n.gate.admit_write().filter(|_| n.up && s.writes < c.max_writes)?;
                n.wal.push(epoch);
                s.writes += 1;
            }
            Action::Ack { node } => {
                let n = &s.nodes[usize::from(node)];
                let end = n.end();
                let admitted = n.gate.admit_write().filter(|_| n.up)?;
                if end.0 != admitted || end.1 == 0 || s.acked.contains(&end) {
                    return None;
                }
                s.acked.insert(end);
                s.ackers.insert((end.0, node));
                s.ledger = s.ledger.max(end);
                if s.store.as_ref().is_some_and(|r| r.epoch() > end.0) {
                    s.acked_below_durable = true;
                }
            }
            Action::Replicate { from, to } => {
                let (f, t) = (&s.nodes[usize::from(from)], &s.nodes[usize::from(to)]);
                let fits = f.up && t.up && f.role == Role::Primary && t.role == Role::Replica;
                if !fits || t.wal.len() >= f.wal.len() || f.wal[..t.wal.len()] != t.wal[..] {
                    return None;
                }
                let (record, sender, source_history) = (f.wal[t.wal.len()], f.gate.epoch, f.history.clone());
                let t = &mut s.nodes[usize::from(to)];
                if !self.mutant(Mutant::NeverFence) && !t.gate.admit_wal(sender) {
                    return None;
                }
                t.wal.push(record);
                t.history = source_history.into_iter().filter(|&(e, _)| e <= record).collect();
            }
            Action::Rebind { node } => {
                let record = s.store.clone().filter(|_| Self::named(&s, node))?;
                let n = &mut s.nodes[usize::from(node)];
                if !n.up || n.role != Role::Replica || !Self::lead(n, &record) {
                    return None;
                }
            }
            Action::CrashNode { node } => {
                let n = &mut s.nodes[usize::from(node)];
                if !n.up || s.node_crashes >= c.node_crashes {
                    return None;
                }
                n.up = false;
                s.node_crashes += 1;
            }
            Action::RestartNode { node } => {
                if s.nodes[usize::from(node)].up || !Self::restart_allowed(&s, node) {
                    return None;
                }
                let durable = s.store.as_ref().map_or(0, Rec::epoch);
                let fence = !self.mutant(Mutant::NeverFence);
                let n = &mut s.nodes[usize::from(node)];
                n.up = true;
                // The server comes back in its durable role at its own epoch; the agent then
                // reads the store and observes the durable epoch: a deposed primary is fenced
                // and follows as a replica.
                n.gate = Gate { fenced: false, observed: n.gate.epoch, ..n.gate };
                if fence {
                    n.gate.observe_epoch(durable);
                }
                if n.gate.fenced {
                    n.role = Role::Replica;
                    n.gate = Gate::replica(n.gate.observed);
                }
            }
        }
        Some(s)
    }

    /// One line per node, the store and the messages: what a trace prints after each step.
    pub fn summary(state: &State) -> String {
        let mut out = String::new();
        match &state.store {
            Some(r) => {
                let _ =
                    write!(out, "store: epoch {} primary {} from {}", r.epoch(), r.0.primary(), r.0.start());
            }
            None => out.push_str("store: no record"),
        }
        let _ = write!(out, "; ledger {}/{}; acked {:?}", state.ledger.0, state.ledger.1, state.acked);
        for (i, n) in state.nodes.iter().enumerate() {
            let gate = match (n.gate.primary, n.gate.fenced) {
                (true, false) => "writable",
                (true, true) => "fenced",
                (false, _) => "replica",
            };
            let _ = write!(
                out,
                "\n    n{i}: {} {:?} gate {gate}@{} wal {:?} history {:?}",
                if n.up { "up" } else { "down" },
                n.role,
                n.gate.epoch,
                n.wal,
                n.history
            );
        }
        for m in &state.in_flight {
            let _ = write!(
                out,
                "\n    in flight: c{}'s commit promoting n{} over epoch {}{}",
                m.ctl,
                m.candidate,
                m.observed.record.as_ref().map_or(0, Rec::epoch),
                if m.awaited { "" } else { " (answer lost)" }
            );
        }
        out
    }

    /// A counterexample as numbered steps, each followed by the state it leads to.
    pub fn render(path: &[(State, Option<Action>)]) -> String {
        let mut out = String::new();
        for (i, (state, action)) in path.iter().enumerate() {
            if i == 0 {
                out.push_str("0. initial\n");
            }
            let _ = writeln!(out, "    {}", Self::summary(state));
            if let Some(action) = action {
                let _ = writeln!(out, "{}. {action}", i + 1);
            }
        }
        out
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Action::Attempt { ctl, candidate } => {
                write!(f, "operator asks c{ctl} to promote n{candidate}: approved, commit sent")
            }
            Action::Deliver { msg } => {
                write!(f, "the store applies commit #{msg} in flight; its answer arrives")
            }
            Action::Drop { msg } => write!(f, "commit #{msg} in flight is lost"),
            Action::LoseAnswer { ctl } => write!(f, "c{ctl} loses its commit's answer and gives up waiting"),
            Action::CrashController { ctl } => write!(f, "c{ctl} crashes and restarts with no memory"),
            Action::Bootstrap { ctl, primary } => {
                write!(f, "c{ctl} finds no record and bootstraps n{primary}")
            }
            Action::Write { node } => write!(f, "a client writes at n{node}"),
            Action::Ack { node } => write!(f, "n{node} acknowledges its newest record"),
            Action::Replicate { from, to } => write!(f, "n{to} pulls one record from n{from}"),
            Action::Rebind { node } => write!(f, "n{node} reads the store and becomes its primary"),
            Action::CrashNode { node } => write!(f, "n{node} crashes"),
            Action::RestartNode { node } => write!(f, "n{node} restarts and reads the store"),
        }
    }
}

impl Model for ProtocolModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        vec![self.initial()]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        let c = &self.config;
        for ctl in 0..c.controllers {
            for candidate in 0..c.nodes {
                actions.push(Action::Attempt { ctl, candidate });
            }
            actions.push(Action::LoseAnswer { ctl });
            actions.push(Action::CrashController { ctl });
            if state.store.is_none() {
                for primary in 0..c.nodes {
                    actions.push(Action::Bootstrap { ctl, primary });
                }
            }
        }
        for msg in 0..state.in_flight.len() as u8 {
            actions.push(Action::Deliver { msg });
            if c.message_loss {
                actions.push(Action::Drop { msg });
            }
        }
        for node in 0..c.nodes {
            actions.push(Action::Write { node });
            actions.push(Action::Ack { node });
            actions.push(Action::Rebind { node });
            actions.push(Action::CrashNode { node });
            actions.push(Action::RestartNode { node });
            for to in (0..c.nodes).filter(|to| *to != node) {
                actions.push(Action::Replicate { from: node, to });
            }
        }
    }

    fn next_state(&self, state: &State, action: Action) -> Option<State> {
        self.step(state, action)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always(ACKED_WRITES_SURVIVE, |_, s| acked_writes_survive(s)),
            Property::always(ONE_ACKNOWLEDGER_PER_EPOCH, |_, s| one_acknowledger_per_epoch(s)),
            Property::always(NO_ACK_BELOW_DURABLE, |_, s: &State| !s.acked_below_durable),
            Property::always(WRITABLE_ONLY_BY_DURABLE_RECORD, |_, s| writable_only_by_durable_record(s)),
            Property::always(EPOCHS_RISE_ONCE, |_, s| epochs_rise_once(s)),
            Property::always(ONE_RECOVERABLE_AUTHORITY, |_, s: &State| {
                register::recoverable(s.store.as_ref())
            }),
            Property::sometimes(PROMOTION_COMPLETES, |_, s| promotion_completes(s)),
        ]
    }
}

/// A shortest path on which `property` of `config`'s model breaks, within `max_depth` steps:
/// its length and its rendering. Breadth first, one depth more at a time (the checker keeps the
/// last violating state it visits; at the first depth with any, every one is at that depth).
pub fn shortest_counterexample(
    config: Config,
    property: &'static str,
    max_depth: usize,
) -> Option<(usize, String)> {
    (1..=max_depth).find_map(|depth| {
        let checker = ProtocolModel::new(config)
            .checker()
            .threads(1)
            .target_max_depth(depth)
            .finish_when(HasDiscoveries::AllOf(BTreeSet::from([property])))
            .spawn_bfs()
            .join();
        checker.discovery(property).map(|path| {
            let steps = path.clone().into_actions().len();
            (steps, ProtocolModel::render(&path.into_vec()))
        })
    })
}

/// The representative of `state`'s class under the model's symmetries, for the checker's
/// symmetry reduction: controllers are interchangeable (the same code, one shared fault budget,
/// and no property names one), and the commits in flight are a multiset (any may be delivered
/// next, whatever the order they were sent in). So relabelling controllers and reordering the
/// messages maps every path to an equivalent one with the same properties; the representative
/// is the relabelling whose hash is least. Nodes are not interchangeable: their ids live in the
/// real records, which cannot be renamed.
pub fn representative(state: &State) -> State {
    let controllers = state.awaiting.len();
    let mut orders: Vec<Vec<usize>> = vec![Vec::new()];
    for _ in 0..controllers {
        orders = orders
            .iter()
            .flat_map(|p| (0..controllers).filter(|c| !p.contains(c)).map(|c| [p.as_slice(), &[c]].concat()))
            .collect();
    }
    let mut best: Option<(u64, State)> = None;
    for order in orders {
        let mut s = state.clone();
        for (from, to) in order.iter().enumerate() {
            s.awaiting[*to] = state.awaiting[from];
        }
        for m in &mut s.in_flight {
            m.ctl = order.get(usize::from(m.ctl)).and_then(|c| u8::try_from(*c).ok()).unwrap_or(m.ctl);
        }
        s.in_flight.sort_by_cached_key(hash_of);
        let key = hash_of(&s);
        if best.as_ref().is_none_or(|(k, _)| key < *k) {
            best = Some((key, s));
        }
    }
    best.map_or_else(|| state.clone(), |(_, s)| s)
}

fn hash_of<T: std::hash::Hash>(value: &T) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    value.hash(&mut hasher);
    std::hash::Hasher::finish(&hasher)
}

/// P6-S1: every acknowledged write is in the WAL of every later authority's primary.
pub const ACKED_WRITES_SURVIVE: &str = "acknowledged writes survive";
/// P6-A1: no two nodes acknowledge writes in the same epoch.
pub const ONE_ACKNOWLEDGER_PER_EPOCH: &str = "one acknowledger per epoch";
/// P6-A1: a node acknowledges at epoch e only while no durable authority above e exists.
pub const NO_ACK_BELOW_DURABLE: &str = "no acknowledgement below the durable epoch";
/// P6-A3: a gate admits writes at e only if a record naming its node at e was made durable.
pub const WRITABLE_ONLY_BY_DURABLE_RECORD: &str = "writable only by a durable record";
/// P6-A2: epochs in the store only increase, each committed once.
pub const EPOCHS_RISE_ONCE: &str = "epochs rise, each committed once";
/// P6-F2: after any crash exactly one authority is recoverable.
pub const ONE_RECOVERABLE_AUTHORITY: &str = "exactly one recoverable authority";
/// Not vacuous: a promotion completes and its primary leads.
pub const PROMOTION_COMPLETES: &str = "a promotion completes";

fn acked_writes_survive(s: &State) -> bool {
    let Some(record) = &s.store else { return true };
    let Some(primary) =
        s.nodes.iter().enumerate().find(|(i, _)| node_id(*i as u8) == Some(record.0.primary()))
    else {
        return true;
    };
    s.acked.iter().filter(|(e, _)| *e < record.epoch()).all(|&a| primary.1.holds(a))
}

fn one_acknowledger_per_epoch(s: &State) -> bool {
    s.ackers.iter().zip(s.ackers.iter().skip(1)).all(|(a, b)| a.0 != b.0)
}

fn writable_only_by_durable_record(s: &State) -> bool {
    s.nodes.iter().enumerate().all(|(i, n)| match n.gate.admit_write() {
        Some(epoch) if n.up => s.committed.contains(&(epoch, i as u8)),
        _ => true,
    })
}

fn epochs_rise_once(s: &State) -> bool {
    s.committed.windows(2).all(|w| w[1].0 > w[0].0)
}

fn promotion_completes(s: &State) -> bool {
    s.store.as_ref().is_some_and(|r| {
        r.epoch() > 1
            && s.nodes.iter().enumerate().any(|(i, n)| {
                node_id(i as u8) == Some(r.0.primary()) && n.up && n.gate.admit_write() == Some(r.epoch())
            })
    })
}
