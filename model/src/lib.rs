//! A [`stateright`] model checker of the promotion protocol as this project runs it: two or more
//! controllers that crash and forget, the authority store as one compare-and-swap register,
//! node agents with write gates and durable server state, clients whose writes the primary
//! acknowledges, and an operator who asks for promotions. Every decision is the library's own:
//! the typestate machine and its validator, the commit edge's successor record and
//! [`check_commit`](aerodb_promotion::check_commit) (see [`register`]). The model's assumptions
//! and properties are in docs/PROTOCOL.md §11.
//!
//! Dev-only: no library crate depends on it.

pub mod gate;
pub mod model;
pub mod register;
pub mod trace;

pub use model::{Action, Node, ProtocolModel, Role, State};

/// A deliberate fault, switched on in the model only (the library is never edited): each must
/// make the checker find a counterexample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mutant {
    /// The authority record lives in a controller's memory: a controller crash loses it, and a
    /// controller that finds none bootstraps again.
    VolatileRecord,
    /// The store writes a commit without comparing (no [`check_commit`](aerodb_promotion::check_commit)).
    BlindPut,
    /// The validator is fed the candidate's own WAL end as the acknowledged position, so the
    /// acknowledged position no longer bounds the candidate's WAL from below (P6-S1's check
    /// `candidate_caught_up` passes whatever was acknowledged).
    NoAcknowledgedLowerBound,
    /// Node agents never fence: a gate ignores newer epochs it observes and accepts WAL from
    /// older ones, so a deposed primary that restarts keeps leading its old epoch.
    NeverFence,
    /// The candidate's agent makes it primary when the commit is sent, before the record is
    /// durable.
    PromoteBeforeDurable,
    /// The store accepts a commit made from an older authority than the one it holds.
    StoreAcceptsOlderEpoch,
}

/// The bounds of one model: everything finite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Controllers (at least 2 for races).
    pub controllers: u8,
    /// Nodes; `n0` is the bootstrapped primary.
    pub nodes: u8,
    /// The highest epoch a promotion may reach.
    pub max_epoch: u64,
    /// Client writes in the whole run.
    pub max_writes: u8,
    /// Node crashes in the whole run.
    pub node_crashes: u8,
    /// Controller faults in the whole run: crashes, and answers lost.
    pub controller_crashes: u8,
    /// Whether a message may be lost (dropped without being applied).
    pub message_loss: bool,
    /// The fault switched on, if any.
    pub mutant: Option<Mutant>,
    /// Report a recorded primary that is up but not writable as `Fenced` (`OldPrimary::Fenced`'s
    /// documented "its writes are blocked", and what `testing::Cluster::inputs` reports) instead
    /// of `Unknown`. Off: see `model/tests/check.rs` for why.
    pub blocked_reads_as_fenced: bool,
}

impl Config {
    /// The bounded configuration CI checks completely: 2 controllers, 3 nodes, epochs ≤ 3,
    /// 2 writes, 2 node crashes (a promotion needs its old primary down), 1 controller crash.
    pub const BOUNDED: Config = Config {
        controllers: 2,
        nodes: 3,
        max_epoch: 3,
        max_writes: 2,
        node_crashes: 2,
        controller_crashes: 1,
        message_loss: true,
        mutant: None,
        blocked_reads_as_fenced: false,
    };

    /// The larger configuration run by hand (RELIABILITY.md §11): epochs ≤ 4,
    /// 3 writes, 3 node crashes, 2 controller faults.
    pub const LARGER: Config =
        Config { max_epoch: 4, max_writes: 3, node_crashes: 3, controller_crashes: 2, ..Config::BOUNDED };

    /// A smaller configuration for the default test run: epochs ≤ 2, 1 write, 1 node crash.
    pub const SMALL: Config = Config {
        controllers: 2,
        nodes: 3,
        max_epoch: 2,
        max_writes: 1,
        node_crashes: 1,
        controller_crashes: 1,
        message_loss: true,
        mutant: None,
        blocked_reads_as_fenced: false,
    };

    /// This configuration with `mutant` switched on.
    pub const fn with_mutant(self, mutant: Mutant) -> Self {
        Config { mutant: Some(mutant), ..self }
    }
}
