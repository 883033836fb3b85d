//! A deterministic cluster model for end-to-end tests and examples (stage 6.8).
//!
//! N nodes, each with a WAL, a Phase 5 role and a write gate; client writes the primary
//! acknowledges; replication steps; node crash, restart and partition; and a controller that
//! drives promotions only through the public typestate API against a real
//! [`FileAuthorityStore`]. No threads, timers or randomness: the same calls give the same run.
//!
//! Acknowledgements are recorded in the control plane when the primary acknowledges a write,
//! so a primary cut off from the controller cannot acknowledge (its writes stay unacknowledged
//! and may be lost, never silently).

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use aerodb_core::{
    Continuation, Epoch, EpochHistory, HaltReason, Lsn, MvccBoundary, NodeId, PartialCommit,
    ReplicationState, WalPosition,
};

use crate::explain::PromotionExplanation;
use crate::file_store::FileAuthorityStore;
use crate::gate::{PrimaryGrant, WriteGate};
use crate::inputs::{AuthorityView, NodeView, OldPrimary, ValidationInputs};
use crate::machine::Decision;
use crate::record::AuthorityRecord;
use crate::recovery::recover;
use crate::request::{PromotionPolicy, PromotionRequest};
use crate::store::{AuthorityStore, StoreError};

/// Where the controller may crash during a promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// In `PromotionRequested`.
    BeforeValidation,
    /// In `PromotionValidating`.
    DuringValidation,
    /// In `PromotionApproved`.
    AfterApproval,
    /// In `AuthorityTransitioning`, before the commit.
    BeforeCommit,
    /// In `PromotionSucceeded`, before the roles are rebound.
    AfterSwitch,
}

impl Boundary {
    /// Every boundary, in lifecycle order.
    pub const ALL: [Boundary; 5] = [
        Boundary::BeforeValidation,
        Boundary::DuringValidation,
        Boundary::AfterApproval,
        Boundary::BeforeCommit,
        Boundary::AfterSwitch,
    ];
}

/// A model failure: bad arguments, a store error, or a broken invariant.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No node has this index.
    #[error("no node {0}")]
    NoNode(usize),
    /// The authority store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An invariant of the model was violated.
    #[error("invariant violated: {0}")]
    Invariant(String),
}

/// One node of the model.
#[derive(Debug)]
pub struct SimNode {
    /// Its id.
    pub id: NodeId,
    up: bool,
    partitioned: bool,
    role: ReplicationState,
    gate: WriteGate,
    wal: Vec<WalPosition>,
    history: EpochHistory,
    applying: bool,
}

impl SimNode {
    /// A replica following `record`, or, with the durable record's grant from `store`, its
    /// primary.
    fn new(
        id: NodeId,
        grant: Option<PrimaryGrant>,
        record: &AuthorityRecord,
        store: &FileAuthorityStore,
    ) -> Result<Self, ClusterError> {
        let mut node = SimNode {
            id,
            up: true,
            partitioned: false,
            role: ReplicationState::ReplicaActive,
            gate: gate(id, record)?,
            wal: Vec::new(),
            history: EpochHistory::initial(Epoch::INITIAL),
            applying: false,
        };
        if let Some(grant) = grant {
            node.role = rebind(grant, ReplicationState::Uninitialized, &node.gate, store)?;
        }
        Ok(node)
    }

    /// Its last WAL record (the start of the WAL when empty).
    pub fn position(&self) -> WalPosition {
        self.wal.last().copied().unwrap_or(WalPosition::new(Epoch::INITIAL, Lsn::ZERO))
    }

    /// Its Phase 5 role.
    pub fn role(&self) -> ReplicationState {
        self.role
    }

    /// Its write gate.
    pub fn gate(&self) -> &WriteGate {
        &self.gate
    }

    /// Whether it is running.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Whether the controller can reach it.
    pub fn reachable(&self) -> bool {
        self.up && !self.partitioned
    }

    fn view(&self) -> NodeView {
        let position = self.position();
        let mvcc = if self.applying {
            let commit = PartialCommit { commit_lsn: position.lsn, applied: 1, total: 2 };
            MvccBoundary {
                visible_commit: Lsn::new(position.lsn.get().saturating_sub(1)),
                applying: Some(commit),
            }
        } else {
            MvccBoundary::at_rest(position.lsn)
        };
        NodeView {
            id: self.id,
            replication: self.role,
            position,
            history: Some(self.history.clone()),
            mvcc: Some(mvcc),
        }
    }
}

fn gate(id: NodeId, record: &AuthorityRecord) -> Result<WriteGate, ClusterError> {
    WriteGate::replica(id, Some(record)).map_err(|e| ClusterError::Invariant(e.to_string()))
}

fn rebind(
    grant: PrimaryGrant,
    role: ReplicationState,
    gate: &WriteGate,
    store: &FileAuthorityStore,
) -> Result<ReplicationState, ClusterError> {
    grant.rebind(role, gate, store).map_err(|e| ClusterError::Invariant(e.to_string()))
}

/// The durable record's grant, as a restarting node or controller reads it (P6-A3); `None`
/// when this handle already handed it out.
fn durable_grant(store: &FileAuthorityStore) -> Result<Option<PrimaryGrant>, ClusterError> {
    Ok(recover(store)?.grant)
}

/// The model: nodes, the control plane's acknowledgement log, and its authority store.
pub struct Cluster {
    nodes: Vec<SimNode>,
    data_dir: PathBuf,
    /// `None` only while a restarted controller reopens it.
    store: Option<FileAuthorityStore>,
    authority: AuthorityRecord,
    policy: PromotionPolicy,
    acked: Vec<WalPosition>,
    attempts: usize,
    explanations: Vec<PromotionExplanation>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster").field("nodes", &self.nodes).field("authority", &self.authority).finish()
    }
}

/// What one promotion attempt did.
#[derive(Debug)]
pub struct AttemptReport {
    /// Its explanation; `None` when the controller crashed before the attempt ended.
    pub explanation: Option<PromotionExplanation>,
    /// The authority afterwards.
    pub authority: AuthorityRecord,
    /// Whether a new epoch became durable.
    pub promoted: bool,
}

impl Cluster {
    /// Opens `data_dir` as the controller's store; bootstraps `names[0]` as primary if it holds
    /// no authority. Every node starts with an empty WAL at the durable epoch.
    pub fn start(data_dir: &Path, names: &[&str], policy: PromotionPolicy) -> Result<Self, ClusterError> {
        let mut store = FileAuthorityStore::open(data_dir)?;
        let ids: Vec<NodeId> = names
            .iter()
            .map(|n| NodeId::new(n).map_err(|e| ClusterError::Invariant(e.to_string())))
            .collect::<Result<_, _>>()?;
        let first = *ids.first().ok_or(ClusterError::NoNode(0))?;
        let authority = match recover(&store)?.authority {
            Some(record) => record,
            None => store.bootstrap(first)?,
        };
        let mut grant = durable_grant(&store)?;
        let nodes = ids
            .iter()
            .map(|&id| {
                let grant = if id == authority.primary() { grant.take() } else { None };
                SimNode::new(id, grant, &authority, &store)
            })
            .collect::<Result<_, _>>()?;
        Ok(Cluster {
            nodes,
            data_dir: data_dir.to_owned(),
            store: Some(store),
            authority,
            policy,
            acked: Vec::new(),
            attempts: 0,
            explanations: Vec::new(),
        })
    }

    /// The nodes.
    pub fn nodes(&self) -> &[SimNode] {
        &self.nodes
    }

    /// Index of the node named `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id.as_str() == name)
    }

    /// The durable authority as the controller last read or wrote it.
    pub fn authority(&self) -> &AuthorityRecord {
        &self.authority
    }

    /// The highest acknowledged position.
    pub fn acknowledged(&self) -> WalPosition {
        self.acked.last().copied().unwrap_or(WalPosition::new(Epoch::INITIAL, Lsn::ZERO))
    }

    /// The controller's store.
    pub fn store(&self) -> Result<&FileAuthorityStore, ClusterError> {
        self.store.as_ref().ok_or_else(|| ClusterError::Invariant("the controller has no store".to_owned()))
    }

    fn store_mut(&mut self) -> Result<&mut FileAuthorityStore, ClusterError> {
        self.store.as_mut().ok_or_else(|| ClusterError::Invariant("the controller has no store".to_owned()))
    }

    /// Attempts made, and the explanations of those that ended.
    pub fn attempts(&self) -> (usize, &[PromotionExplanation]) {
        (self.attempts, &self.explanations)
    }

    fn node(&mut self, index: usize) -> Result<&mut SimNode, ClusterError> {
        self.nodes.get_mut(index).ok_or(ClusterError::NoNode(index))
    }

    fn primary_index(&self) -> Option<usize> {
        self.nodes.iter().position(|n| n.up && n.gate.admit_write().is_ok())
    }

    /// Clients write `count` records to whichever node admits writes; acknowledged only if the
    /// controller can record the acknowledgement. Returns how many were acknowledged.
    pub fn write(&mut self, count: usize) -> usize {
        let Some(index) = self.primary_index() else { return 0 };
        let node = &mut self.nodes[index];
        let mut acked = 0;
        for _ in 0..count {
            let Ok(epoch) = node.gate.admit_write() else { break };
            let position = WalPosition::new(epoch, Lsn::new(node.position().lsn.get() + 1));
            node.wal.push(position);
            if !node.partitioned {
                self.acked.push(position);
                acked += 1;
            }
        }
        acked
    }

    /// Replica `index` pulls up to `max` records from the primary; with `leave_partial`, the
    /// last one is left half-applied (its MVCC state is not on a commit boundary).
    pub fn replicate(
        &mut self,
        index: usize,
        max: usize,
        leave_partial: bool,
    ) -> Result<usize, ClusterError> {
        let Some(primary) = self.primary_index() else { return Ok(0) };
        if primary == index || !self.node(index)?.reachable() || self.nodes[primary].partitioned {
            return Ok(0);
        }
        let (source_wal, source_history, source_epoch) = {
            let p = &self.nodes[primary];
            (p.wal.clone(), p.history.clone(), p.gate.epoch())
        };
        let node = &mut self.nodes[index];
        if node.role != ReplicationState::ReplicaActive || node.gate.admit_wal(source_epoch).is_err() {
            return Ok(0);
        }
        let mine = node.wal.len();
        if mine > source_wal.len() || source_wal[..mine] != node.wal[..] {
            node.role = ReplicationState::ReplicationHalted { reason: HaltReason::HistoryDivergence };
            return Ok(0);
        }
        let copied = max.min(source_wal.len() - mine);
        node.wal.extend_from_slice(&source_wal[mine..mine + copied]);
        let last_epoch = node.position().epoch;
        let known: Vec<_> =
            source_history.entries().iter().copied().filter(|e| e.epoch <= last_epoch).collect();
        node.history = EpochHistory::new(known).map_err(|e| ClusterError::Invariant(e.to_string()))?;
        node.applying = leave_partial && copied > 0;
        Ok(copied)
    }

    /// Finishes applying a half-applied commit on node `index`.
    pub fn settle(&mut self, index: usize) -> Result<(), ClusterError> {
        self.node(index)?.applying = false;
        Ok(())
    }

    /// Node `index` crashes: it stops; its WAL survives.
    pub fn crash(&mut self, index: usize) -> Result<(), ClusterError> {
        self.node(index)?.up = false;
        Ok(())
    }

    /// Node `index` is cut off from the controller and the other nodes.
    pub fn partition(&mut self, index: usize) -> Result<(), ClusterError> {
        self.node(index)?.partitioned = true;
        Ok(())
    }

    /// Node `index` is reachable again and learns the durable epoch (a deposed primary is fenced).
    pub fn heal(&mut self, index: usize) -> Result<(), ClusterError> {
        let epoch = self.authority.epoch();
        let node = self.node(index)?;
        node.partitioned = false;
        if node.up {
            learn_epoch(node, epoch);
        }
        Ok(())
    }

    /// Node `index` restarts with the role it had. The durable record's primary leads at the
    /// record's epoch; a deposed primary comes back leading its old epoch and, on contacting
    /// the cluster, learns the new one and is fenced; a replica follows if its WAL continues
    /// the authoritative history, else halts.
    pub fn restart(&mut self, index: usize) -> Result<(), ClusterError> {
        let record = self.authority.clone();
        if self.node(index)?.up {
            return Ok(());
        }
        // The restarting node's own process reads the durable record through its own handle,
        // which hands out one grant for it.
        let grant = if self.node(index)?.id == record.primary() {
            self.restart_store()?;
            durable_grant(self.store()?)?
        } else {
            None
        };
        let store = self.store.as_ref().ok_or_else(|| ClusterError::Invariant("no store".to_owned()))?;
        let node = self.nodes.get_mut(index).ok_or(ClusterError::NoNode(index))?;
        node.up = true;
        node.applying = false;
        if let Some(grant) = grant {
            // It restarts uninitialized and leads again only on the durable record's grant.
            node.gate = gate(node.id, &record)?;
            node.role = rebind(grant, ReplicationState::Uninitialized, &node.gate, store)?;
            node.history = record.epoch_history().clone();
        } else if node.role == ReplicationState::ReplicaActive {
            node.gate = gate(node.id, &record)?;
            if node.history.continuation_of(node.position(), record.epoch_history())
                != Continuation::Compatible
            {
                node.role = ReplicationState::ReplicationHalted { reason: HaltReason::HistoryDivergence };
            }
        }
        if node.reachable() {
            learn_epoch(node, record.epoch());
        }
        Ok(())
    }

    /// A halted node rejoins as a replica through Phase 5's role changes (halted →
    /// uninitialized → replica), if its WAL continues the authoritative history.
    pub fn rejoin(&mut self, index: usize) -> Result<bool, ClusterError> {
        let record = self.authority.clone();
        let node = self.node(index)?;
        let halted = matches!(node.role, ReplicationState::ReplicationHalted { .. });
        let continues =
            node.history.continuation_of(node.position(), record.epoch_history()) == Continuation::Compatible;
        if !node.reachable() || !halted || !continues {
            return Ok(false);
        }
        let role = node
            .role
            .change_to(ReplicationState::Uninitialized)
            .and_then(|r| r.change_to(ReplicationState::ReplicaActive))
            .map_err(|e| ClusterError::Invariant(e.to_string()))?;
        node.role = role;
        node.gate = gate(node.id, &record)?;
        Ok(true)
    }

    /// What the controller can observe when asked to promote.
    pub fn inputs(&self) -> ValidationInputs {
        let primary = self.nodes.iter().find(|n| n.id == self.authority.primary());
        let old_primary = match primary {
            Some(p) if !p.up => OldPrimary::ConfirmedStopped,
            Some(p) if p.partitioned => OldPrimary::Unknown,
            Some(p) if p.gate.is_fenced() => OldPrimary::Fenced,
            Some(p) if p.gate.admit_write().is_ok() => OldPrimary::KnownActive,
            // Up, writes blocked only until its grant is rebound: it can still write at its
            // epoch, so not fenced (the model checker found the lost write when it was).
            Some(_) => OldPrimary::Unknown,
            None => OldPrimary::Unknown,
        };
        ValidationInputs {
            authority: Some(AuthorityView {
                primary: self.authority.primary(),
                history: self.authority.epoch_history().clone(),
            }),
            nodes: self.nodes.iter().filter(|n| n.reachable()).map(SimNode::view).collect(),
            old_primary,
            acknowledged: Some(self.acknowledged()),
            report: None,
        }
    }

    /// Promotes node `index` through the typestate API. With `crash_at`, the controller
    /// crashes at that boundary and a new controller recovers from the store.
    pub fn promote(
        &mut self,
        index: usize,
        force: bool,
        crash_at: Option<Boundary>,
    ) -> Result<AttemptReport, ClusterError> {
        let candidate = self.nodes.get(index).ok_or(ClusterError::NoNode(index))?.id;
        let before = self.authority.epoch();
        let inputs = self.inputs();
        let request = PromotionRequest::builder(candidate.as_str())
            .force(force)
            .reason("operator request")
            .build()
            .map_err(|e| ClusterError::Invariant(e.to_string()))?;
        self.attempts += 1;
        let crash = |at: Boundary| crash_at == Some(at);
        let steady = recover(self.store()?)?.steady;
        let requested = steady.request(request);
        if crash(Boundary::BeforeValidation) {
            drop(requested);
            return self.controller_restart(before);
        }
        let validating = match requested.begin_validation(self.policy, &inputs) {
            Ok(validating) => validating,
            Err(rejected) => return self.ended(rejected.explain(), before),
        };
        if crash(Boundary::DuringValidation) {
            drop(validating);
            return self.controller_restart(before);
        }
        let approved = match validating.decide(&inputs) {
            Decision::Approved(approved) => approved,
            Decision::Denied(denied) => return self.ended(denied.conclude().1.explain(), before),
        };
        if crash(Boundary::AfterApproval) {
            drop(approved);
            return self.controller_restart(before);
        }
        let transitioning = approved.begin_transition();
        if crash(Boundary::BeforeCommit) {
            drop(transitioning);
            return self.controller_restart(before);
        }
        let succeeded = match transitioning.commit(self.store_mut()?) {
            Ok(succeeded) => succeeded,
            Err(failure) => {
                let explanation = failure.explain();
                let (recovered, _) = failure.recover(self.store()?)?;
                if let Some(record) = recovered.authority {
                    self.authority = record;
                }
                return self.ended(explanation, before);
            }
        };
        self.authority = succeeded.committed().record().clone();
        if crash(Boundary::AfterSwitch) {
            drop(succeeded);
            return self.controller_restart(before);
        }
        let (_steady, committed) = succeeded.complete();
        let explanation = committed.explain();
        let store = self.store.as_ref().ok_or_else(|| ClusterError::Invariant("no store".to_owned()))?;
        let node = &mut self.nodes[index];
        node.role = rebind(committed.into_grant(), node.role, &node.gate, store)?;
        node.history = self.authority.epoch_history().clone();
        self.reconcile()?;
        self.ended(explanation, before)
    }

    fn ended(
        &mut self,
        explanation: PromotionExplanation,
        before: Epoch,
    ) -> Result<AttemptReport, ClusterError> {
        self.explanations.push(explanation.clone());
        self.report(Some(explanation), before)
    }

    fn report(
        &mut self,
        explanation: Option<PromotionExplanation>,
        before: Epoch,
    ) -> Result<AttemptReport, ClusterError> {
        let promoted = self.authority.epoch() != before;
        if promoted {
            self.check_acknowledged_writes_survived()?;
        }
        Ok(AttemptReport { explanation, authority: self.authority.clone(), promoted })
    }

    /// Drops the store handle and opens the data directory again, as a new process does.
    fn restart_store(&mut self) -> Result<(), ClusterError> {
        drop(self.store.take());
        self.store = Some(FileAuthorityStore::open(&self.data_dir)?);
        Ok(())
    }

    /// A new controller process: reopens the store, recovers, and rebinds roles to the record.
    fn controller_restart(&mut self, before: Epoch) -> Result<AttemptReport, ClusterError> {
        self.restart_controller()?;
        self.report(None, before)
    }

    /// Drops the store handle and opens the data directory again, as a restarted controller
    /// does, then makes the reachable nodes agree with the durable record.
    pub fn restart_controller(&mut self) -> Result<&AuthorityRecord, ClusterError> {
        self.restart_store()?;
        let record = recover(self.store()?)?
            .authority
            .ok_or_else(|| ClusterError::Invariant("the authority record vanished".to_owned()))?;
        self.authority = record;
        self.reconcile()?;
        Ok(&self.authority)
    }

    /// Reachable nodes learn the durable epoch; the recorded primary, if it is still a replica
    /// (the controller crashed before rebinding), is rebound through Phase 5's promotion change.
    fn reconcile(&mut self) -> Result<(), ClusterError> {
        let epoch = self.authority.epoch();
        let primary = self.authority.primary();
        let history = self.authority.epoch_history().clone();
        let store = self.store.as_ref().ok_or_else(|| ClusterError::Invariant("no store".to_owned()))?;
        let mut grant = durable_grant(store)?;
        for node in self.nodes.iter_mut().filter(|n| n.reachable()) {
            if node.id == primary && node.gate.admit_write().is_err() {
                if let (Ok(()), Some(grant)) = (node.role.check_becoming_primary(), grant.take()) {
                    node.role = rebind(grant, node.role, &node.gate, store)?;
                    node.history = history.clone();
                }
            } else {
                learn_epoch(node, epoch);
            }
        }
        Ok(())
    }

    /// P6-S1: every acknowledged write is in the new primary's WAL.
    fn check_acknowledged_writes_survived(&self) -> Result<(), ClusterError> {
        let Some(primary) = self.nodes.iter().find(|n| n.id == self.authority.primary()) else {
            return Err(ClusterError::Invariant("the new primary is not a node".to_owned()));
        };
        let wal: HashSet<WalPosition> = primary.wal.iter().copied().collect();
        match self.acked.iter().find(|a| !wal.contains(a)) {
            Some(lost) => {
                Err(ClusterError::Invariant(format!("acknowledged write {lost} is not on {}", primary.id)))
            }
            None => Ok(()),
        }
    }

    /// The model's invariants, checked after every step: one writer at the highest epoch and
    /// none beyond the durable one (P6-A1); recovery reproduces the authority (P6-D2).
    pub fn check_invariants(&self) -> Result<(), ClusterError> {
        let admitting: Vec<(Epoch, NodeId)> = self
            .nodes
            .iter()
            .filter(|n| n.up)
            .filter_map(|n| n.gate.admit_write().ok().map(|e| (e, n.id)))
            .collect();
        if let Some(&(top, _)) = admitting.iter().max() {
            let writers: Vec<_> = admitting.iter().filter(|(e, _)| *e == top).map(|(_, id)| *id).collect();
            if writers.len() > 1 {
                return Err(ClusterError::Invariant(format!("two writers at epoch {top}: {writers:?}")));
            }
            if top > self.authority.epoch() {
                return Err(ClusterError::Invariant(format!(
                    "a writer at epoch {top} beyond the durable one"
                )));
            }
            let leader = self.nodes.iter().find(|n| n.id == writers[0]);
            if top == self.authority.epoch()
                && leader.is_some_and(|n| &n.history != self.authority.epoch_history())
            {
                return Err(ClusterError::Invariant(format!(
                    "{} leads without the authoritative history",
                    writers[0]
                )));
            }
        }
        let durable = recover(self.store()?)?.authority;
        if durable.as_ref() != Some(&self.authority) {
            return Err(ClusterError::Invariant("recovery does not reproduce the authority".to_owned()));
        }
        Ok(())
    }
}

/// A node learns epoch `epoch` exists: a primary below it is fenced and stops leading.
fn learn_epoch(node: &mut SimNode, epoch: Epoch) {
    node.gate.observe_epoch(epoch);
    if node.role == ReplicationState::PrimaryActive && node.gate.is_fenced() {
        node.role = ReplicationState::ReplicationHalted { reason: HaltReason::AuthorityAmbiguity };
    }
}
