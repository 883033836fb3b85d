//! The authority store as one compare-and-swap register, and a controller's attempt, both through
//! the library's own code: the typestate machine and its validator (`decide`), the commit edge's
//! successor record, and [`check_commit`] (P6-A1, P6-A2). Nothing here restates a rule.

use std::hash::{Hash, Hasher};

use aerodb_core::{
    Epoch, EpochHistory, EpochStart, Lsn, MvccBoundary, NodeId, ReplicationState, WalPosition,
};
use aerodb_promotion::{
    AuthorityRecord, AuthorityStore, Decision, NodeView, OldPrimary, PrimaryReport, PromotionPolicy,
    PromotionRequest, PromotionSlot, Proposal, StoreError, ValidationInputs, check_commit, recover,
};

use crate::Mutant;

/// A durable authority record as model state: the library's own [`AuthorityRecord`], hashed by
/// the fields it is compared by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rec(pub AuthorityRecord);

impl Hash for Rec {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let r = &self.0;
        (r.epoch(), r.primary(), r.previous_primary(), r.start(), r.history(), r.request()).hash(state);
    }
}

impl Rec {
    /// The record's epoch as a number.
    pub fn epoch(&self) -> u64 {
        self.0.epoch().get()
    }
}

/// The model's name of node `index`: `n0`, `n1`, … (always a valid id; `None` never happens).
pub fn node_id(index: u8) -> Option<NodeId> {
    NodeId::new(&format!("n{index}")).ok()
}

/// What one node looked like to a controller: the parts a [`NodeView`] is made of.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Seen {
    /// The node's index.
    pub node: u8,
    /// Whether its gate admitted writes (reported `PrimaryActive`), else `ReplicaActive`.
    pub writable: bool,
    /// Its last WAL record `(epoch, lsn)`.
    pub end: (u64, u64),
    /// Its epoch history `(epoch, start)`.
    pub history: Vec<(u64, u64)>,
}

/// One controller's observation, taken in the step that decides: the record it loaded, every
/// node it could reach, the old primary's liveness and the acknowledged position.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Observed {
    /// The durable record the controller loaded.
    pub record: Option<Rec>,
    /// The nodes that were up.
    pub nodes: Vec<Seen>,
    /// What was known of the recorded primary.
    pub old_primary: OldPrimary,
    /// The acknowledged position the controller read from the acknowledgement ledger.
    pub acknowledged: (u64, u64),
}

/// `(epoch, lsn)` as a [`WalPosition`].
pub fn position((epoch, lsn): (u64, u64)) -> WalPosition {
    WalPosition::new(Epoch::new(epoch), Lsn::new(lsn))
}

/// `(epoch, start)` pairs as an [`EpochHistory`]; `None` if they break its rules.
pub fn history(entries: &[(u64, u64)]) -> Option<EpochHistory> {
    let entries = entries.iter().map(|&(e, s)| EpochStart { epoch: Epoch::new(e), start: Lsn::new(s) });
    EpochHistory::new(entries.collect()).ok()
}

impl Observed {
    /// The library's validation inputs for this observation; under
    /// [`Mutant::NoAcknowledgedLowerBound`] the acknowledged position fed to the validator is
    /// the candidate's own WAL end, so the acknowledged position no longer bounds it from below.
    pub fn inputs(&self, candidate: u8, mutant: Option<Mutant>) -> ValidationInputs {
        let mut inputs = ValidationInputs::new(self.record.as_ref().map(|r| r.0.view()))
            .with_old_primary(self.old_primary)
            .with_acknowledged(position(self.acknowledged));
        for seen in &self.nodes {
            let role =
                if seen.writable { ReplicationState::PrimaryActive } else { ReplicationState::ReplicaActive };
            let end = position(seen.end);
            let Some(id) = node_id(seen.node) else { continue };
            let mut view = NodeView::new(id, role, end).with_mvcc(MvccBoundary::at_rest(end.lsn));
            if let Some(h) = history(&seen.history) {
                view = view.with_history(h);
            }
            if mutant == Some(Mutant::NoAcknowledgedLowerBound) && seen.node == candidate {
                inputs = inputs.with_acknowledged(end);
            }
            inputs = inputs.with_node(view);
        }
        inputs
    }
}

/// How the register applies a commit: the real rule, or a store mutant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteRule {
    /// [`check_commit`], then the write: what every real store does (P6-A1).
    CompareAndSwap,
    /// Mutant: the write without any compare.
    BlindPut,
    /// Mutant: [`check_commit`], but a proposal made from an older authority than the current
    /// one is accepted anyway.
    AcceptOlder,
}

impl WriteRule {
    /// The rule a model with `mutant` uses.
    pub fn of(mutant: Option<Mutant>) -> Self {
        match mutant {
            Some(Mutant::BlindPut) => WriteRule::BlindPut,
            Some(Mutant::StoreAcceptsOlderEpoch) => WriteRule::AcceptOlder,
            _ => WriteRule::CompareAndSwap,
        }
    }
}

/// The compare-and-swap register as an [`AuthorityStore`]: `load` answers what the controller
/// read when it decided (`read`); `commit` applies the write rule to the durable value now.
/// Loading and the compare-and-swap are separate messages in a real store, so the model's
/// controller reads in one step and its commit lands in a later one.
#[derive(Debug)]
pub struct Register {
    /// What `load` answers: the controller's earlier read.
    pub read: Option<AuthorityRecord>,
    /// The one durable value.
    pub durable: Option<AuthorityRecord>,
    rule: WriteRule,
    slot: PromotionSlot,
}

impl Register {
    /// A register holding `durable`, whose loads answer `read`.
    pub fn new(read: Option<AuthorityRecord>, durable: Option<AuthorityRecord>, rule: WriteRule) -> Self {
        Register { read, durable, rule, slot: PromotionSlot::new() }
    }
}

impl AuthorityStore for Register {
    fn load(&self) -> Result<Option<AuthorityRecord>, StoreError> {
        Ok(self.read.clone())
    }

    fn commit(&mut self, proposal: &Proposal) -> Result<(), StoreError> {
        match (self.rule, check_commit(self.durable.as_ref(), proposal)) {
            (WriteRule::BlindPut, _) | (_, Ok(())) => {}
            (WriteRule::AcceptOlder, Err(StoreError::Conflict(c))) if c.found > c.expected => {}
            (_, Err(refused)) => return Err(refused),
        }
        self.durable = Some(proposal.record().clone());
        self.read.clone_from(&self.durable);
        Ok(())
    }

    fn slot(&self) -> &PromotionSlot {
        &self.slot
    }

    /// The model's primaries report nothing durably: its acknowledged bound and old primary's
    /// state are given in the inputs (`Observed::inputs`), so no report ever exists.
    fn load_report(&self) -> Result<Option<PrimaryReport>, StoreError> {
        Ok(None)
    }

    fn swap_report(&mut self, _: Option<&PrimaryReport>, _: &PrimaryReport) -> Result<(), StoreError> {
        Err(StoreError::Backend { operation: "swap_report", detail: "the model keeps no report".to_owned() })
    }
}

/// What one attempt came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Rejected at screening or denied by the validator: nothing to commit.
    Denied,
    /// The store refused the commit: nothing written.
    Refused,
    /// The successor record is durable in the register.
    Committed(Box<AuthorityRecord>),
}

/// A controller's attempt to promote `candidate` on what it `observed`, run through the real
/// typestate machine against `store`: recover, request, validate (the library's validator),
/// and commit (the commit edge builds the successor; the store applies its rule).
pub fn attempt(observed: &Observed, candidate: u8, mutant: Option<Mutant>, store: &mut Register) -> Outcome {
    let Ok(recovered) = recover(&*store) else { return Outcome::Denied };
    let Some(Ok(request)) = node_id(candidate).map(|id| PromotionRequest::builder(id.as_str()).build())
    else {
        return Outcome::Denied;
    };
    let inputs = observed.inputs(candidate, mutant);
    let Ok(validating) =
        recovered.steady.request(request).begin_validation(PromotionPolicy::Enabled, &inputs)
    else {
        return Outcome::Denied;
    };
    match validating.decide(&inputs) {
        Decision::Denied(_) => Outcome::Denied,
        Decision::Approved(approved) => match approved.begin_transition().commit(store) {
            Ok(succeeded) => Outcome::Committed(Box::new(succeeded.complete().1.record().clone())),
            Err(_) => Outcome::Refused,
        },
    }
}

/// The bootstrap record for `primary`, written through the store's own `bootstrap` (epoch 1,
/// [`check_commit`] against `durable`); `None` if refused.
pub fn bootstrap(durable: Option<AuthorityRecord>, primary: u8, rule: WriteRule) -> Option<AuthorityRecord> {
    let mut store = Register::new(durable.clone(), durable, rule);
    store.bootstrap(node_id(primary)?).ok()
}

/// Whether `record` is what a restarted controller recovers from a register holding it: the
/// library's `recover` finds exactly one authority (P6-F2, P6-D2).
pub fn recoverable(record: Option<&Rec>) -> bool {
    let held = record.map(|r| r.0.clone());
    let store = Register::new(held.clone(), held, WriteRule::CompareAndSwap);
    recover(&store).is_ok_and(|r| r.authority.is_some() && r.authority == record.map(|r| r.0.clone()))
}
