//! Shared fixture: a three-node cluster whose inputs approve promoting `replica-1`.
#![allow(dead_code)]

pub mod faulty;
pub mod simfs;

use aerodb_core::*;
use aerodb_promotion::*;

pub fn id(s: &str) -> NodeId {
    NodeId::new(s).unwrap()
}

pub fn pos(e: u64, l: u64) -> WalPosition {
    WalPosition::new(Epoch::new(e), Lsn::new(l))
}

pub fn history(points: &[(u64, u64)]) -> EpochHistory {
    EpochHistory::new(
        points.iter().map(|&(e, s)| EpochStart { epoch: Epoch::new(e), start: Lsn::new(s) }).collect(),
    )
    .unwrap()
}

pub fn replica(name: &str, position: WalPosition, hist: EpochHistory) -> NodeView {
    NodeView::new(id(name), ReplicationState::ReplicaActive, position)
        .with_history(hist)
        .with_mvcc(MvccBoundary::at_rest(position.lsn))
}

/// Authority at epoch 2 (switch at LSN 100) led by `primary-0`, which is confirmed stopped;
/// acknowledged through 2/150; `replica-1` at 2/150 (caught up), `replica-2` at 2/120 (lagging).
pub fn approving_inputs() -> ValidationInputs {
    let h = history(&[(1, 0), (2, 100)]);
    let halted = ReplicationState::ReplicationHalted { reason: HaltReason::AuthorityAmbiguity };
    ValidationInputs::new(Some(AuthorityView::new(id("primary-0"), h.clone())))
        .with_node(
            NodeView::new(id("primary-0"), halted, pos(2, 150))
                .with_history(h.clone())
                .with_mvcc(MvccBoundary::at_rest(Lsn::new(150))),
        )
        .with_node(replica("replica-1", pos(2, 150), h.clone()))
        .with_node(replica("replica-2", pos(2, 120), h))
        .with_old_primary(OldPrimary::ConfirmedStopped)
        .with_acknowledged(pos(2, 150))
}

pub fn request(candidate: &str) -> PromotionRequest {
    PromotionRequest::builder(candidate).build().unwrap()
}

pub fn forced(candidate: &str) -> PromotionRequest {
    PromotionRequest::builder(candidate)
        .force(true)
        .reason("operator confirmed host power-off")
        .build()
        .unwrap()
}

pub fn node_mut<'a>(inputs: &'a mut ValidationInputs, name: &str) -> &'a mut NodeView {
    inputs.nodes.iter_mut().find(|n| n.id == id(name)).unwrap()
}

/// The failed checks of an assessment, in order.
pub fn failed(assessment: &Assessment) -> Vec<CheckId> {
    assessment.checks.iter().filter(|c| !c.passed()).map(|c| c.check).collect()
}

pub fn denial(assessment: &Assessment) -> Option<DenialReason> {
    match &assessment.verdict {
        Verdict::Deny(reason) => Some(*reason),
        Verdict::Approve(_) | Verdict::Reject(_) => None,
    }
}

pub use tempfile::TempDir;

/// A fresh directory `aerodb-{tag}-…` under the system temp dir, removed on drop.
pub fn temp_dir(tag: &str) -> TempDir {
    tempfile::Builder::new().prefix(&format!("aerodb-{tag}-")).tempdir().unwrap()
}

pub use aerodb_promotion::testing::events::Capture;

/// `candidate` screened on `screened`, then decided on other inputs, `decided`: a caller may
/// hand `decide` inputs that differ from screening's.
pub fn decided_on(candidate: &str, screened: &ValidationInputs, decided: &ValidationInputs) -> Decision {
    let slot = PromotionSlot::new();
    let validating = Promotion::new(&slot)
        .request(request(candidate))
        .begin_validation(PromotionPolicy::Enabled, screened)
        .unwrap();
    validating.decide(decided)
}

/// One whole attempt through the typestate API against `store`, explained.
pub fn attempt<St: AuthorityStore>(
    store: &mut St,
    request: PromotionRequest,
    inputs: &ValidationInputs,
    policy: PromotionPolicy,
) -> PromotionExplanation {
    let steady = recover(store).unwrap().steady;
    match steady.request(request).begin_validation(policy, inputs) {
        Err(rejected) => rejected.explain(),
        Ok(validating) => match validating.decide(inputs) {
            Decision::Denied(denied) => denied.conclude().1.explain(),
            Decision::Approved(approved) => match approved.begin_transition().commit(store) {
                Ok(succeeded) => succeeded.complete().1.explain(),
                Err(failure) => {
                    let explanation = failure.explain();
                    let _ = failure.recover(store);
                    explanation
                }
            },
        },
    }
}

/// A store whose commits always fail with an I/O error, as after a failed fsync.
#[derive(Default)]
pub struct FailingCommits(pub aerodb_promotion::testing::MemoryStore);

impl AuthorityStore for FailingCommits {
    fn load(&self) -> Result<Option<AuthorityRecord>, StoreError> {
        self.0.load()
    }
    fn commit(&mut self, proposal: &Proposal) -> Result<(), StoreError> {
        if proposal.expected().is_none() {
            return self.0.commit(proposal); // bootstrap works, promotions fail
        }
        Err(StoreError::Io {
            step: IoStep::SyncFile,
            location: Location::key("<memory>"),
            error: std::sync::Arc::new(std::io::Error::other("injected EIO")),
        })
    }
    fn slot(&self) -> &PromotionSlot {
        self.0.slot()
    }
    fn load_report(&self) -> Result<Option<PrimaryReport>, StoreError> {
        self.0.load_report()
    }
    fn swap_report(
        &mut self,
        expected: Option<&PrimaryReport>,
        report: &PrimaryReport,
    ) -> Result<(), StoreError> {
        self.0.swap_report(expected, report)
    }
}

/// A store whose reads come from one authority and whose commits go to another: what a caller
/// gets by validating against one data directory (or key) and committing into a second one.
pub struct Crossed<'a, V, T> {
    pub validated: &'a V,
    pub target: &'a mut T,
}

impl<V: AuthorityStore, T: AuthorityStore> AuthorityStore for Crossed<'_, V, T> {
    fn load(&self) -> Result<Option<AuthorityRecord>, StoreError> {
        self.validated.load()
    }
    fn commit(&mut self, proposal: &Proposal) -> Result<(), StoreError> {
        self.target.commit(proposal)
    }
    fn slot(&self) -> &PromotionSlot {
        self.target.slot()
    }
    fn load_report(&self) -> Result<Option<PrimaryReport>, StoreError> {
        self.validated.load_report()
    }
    fn swap_report(
        &mut self,
        expected: Option<&PrimaryReport>,
        report: &PrimaryReport,
    ) -> Result<(), StoreError> {
        self.target.swap_report(expected, report)
    }
}

/// Installs, once per test binary, a global subscriber that takes no events but keeps every
/// promotion callsite's interest at "sometimes". Without it, a test thread running with no
/// subscriber can cache "never" for a callsite while another thread installs its scoped
/// `Capture`, which then misses events. Call it first in every test of a binary that captures.
pub fn init_tracing() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let quiet = Capture { reject_all: true, ..Capture::default() };
        tracing::subscriber::set_global_default(quiet).expect("no other global subscriber in tests");
    });
}

/// Recovers `store`, requests `candidate`, screens and validates against `inputs`: the approval.
pub fn approve<St: AuthorityStore>(
    store: &St,
    candidate: &str,
    inputs: &ValidationInputs,
) -> Promotion<PromotionApproved> {
    let validating = recover(store)
        .unwrap()
        .steady
        .request(request(candidate))
        .begin_validation(PromotionPolicy::Enabled, inputs)
        .unwrap();
    match validating.decide(inputs) {
        Decision::Approved(approved) => approved,
        Decision::Denied(denied) => panic!("expected approval: {}", denied.denial().reason()),
    }
}

/// Promotes `candidate`, caught up through `lsn` of `from`'s epoch, over `store`'s durable
/// `from`: the record it made durable.
pub fn promoted<St: AuthorityStore>(
    store: &mut St,
    from: &AuthorityRecord,
    candidate: &str,
    lsn: u64,
) -> AuthorityRecord {
    let inputs = aerodb_promotion::testing::caught_up_inputs(from, id(candidate), lsn);
    let succeeded = approve(store, candidate, &inputs).begin_transition().commit(store).unwrap();
    succeeded.complete().1.record().clone()
}
