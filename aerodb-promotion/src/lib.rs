//! Safe replica promotion for AeroDB.
//!
//! A promotion proves from replication, WAL and MVCC state that no acknowledged write can be
//! lost and no second primary can appear — or refuses and says exactly why. Every state is its
//! own type ([`Promotion<S>`]), so only the nine transitions of the spec compile.
//!
//! ```
//! use aerodb_core::*;
//! use aerodb_promotion::*;
//!
//! let id = |s: &str| NodeId::new(s).unwrap();
//! let history = EpochHistory::initial(Epoch(1));
//! let replica = NodeView {
//!     id: id("replica-1"),
//!     replication: ReplicationState::ReplicaActive,
//!     position: WalPosition::new(Epoch(1), Lsn(120)),
//!     history: Some(history.clone()),
//!     mvcc: Some(MvccBoundary::at_rest(Lsn(120))),
//! };
//! let inputs = ValidationInputs {
//!     authority: Some(AuthorityView { primary: id("primary-0"), history }),
//!     nodes: vec![replica],
//!     old_primary: OldPrimary::ConfirmedStopped,
//!     acknowledged: Some(WalPosition::new(Epoch(1), Lsn(120))),
//! };
//! let request = PromotionRequest::builder("replica-1").reason("primary host lost").build()?;
//!
//! // A dry run changes nothing.
//! assert!(matches!(assess(PromotionPolicy::Enabled, &request, &inputs).verdict, Verdict::Approve(_)));
//!
//! let slot = PromotionSlot::new();
//! let validating = Promotion::new(&slot).request(request).begin_validation(PromotionPolicy::Enabled, &inputs)?;
//! match validating.decide(&inputs) {
//!     Decision::Approved(approved) => assert_eq!(approved.approval().plan().new_epoch, Epoch(2)),
//!     Decision::Denied(denied) => panic!("{}", denied.denial().reason()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod checks;
mod codec;
mod commit;
mod display;
mod explain;
mod gate;
mod inputs;
mod invariant;
mod io;
mod machine;
mod observe;
mod record;
mod recovery;
mod request;
mod slot;
mod states;
mod steps;
mod store;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod validator;

// Observe the cluster: what the validator reads, gathered by the control plane.
pub use inputs::{AuthorityView, NodeView, OldPrimary, ValidationInputs};

// Request a promotion.
pub use request::{
    MAX_REASON_LEN, MAX_REQUEST_ID_LEN, PromotionPolicy, PromotionRequest, PromotionRequestBuilder,
    Rejection, RequestError, TextProblem,
};

// Decide: the typestate machine, the validator and its dry run.
pub use checks::{AuthorityPlan, CheckId, CheckRecord, Compared, DenialReason};
pub use machine::{Decision, Rejected};
pub use slot::PromotionSlot;
pub use states::{
    ALLOWED_TRANSITIONS, AuthorityTransitioning, Committed, Promotion, PromotionApproved, PromotionDenied,
    PromotionRequested, PromotionState, PromotionSucceeded, PromotionValidating, StateKind, Steady,
    Transition, transition_reason,
};
pub use validator::{Approval, Assessment, Denial, Verdict, assess};

// Commit: the authority record, its bytes, and the stores that keep it.
pub use codec::{
    DecodeError, EncodeError, FORMAT_VERSION, MAGIC, MAX_FRAME, MAX_PAYLOAD, OLDEST_READABLE_VERSION,
};
pub use commit::CommitError;
pub use io::{Backend, DIR_MODE, FILE_MODE, Ownership, StdBackend};
pub use machine::{CommitFailure, Resolution};
pub use record::{AuthorityRecord, Force, HISTORY_CAP, PastAuthority, RecordError, RequestSummary};
pub use store::{
    AuthorityStore, FileAuthorityStore, IoStep, LOCK_FILE, METADATA_DIR, OpenReport, PermissionProblem,
    Proposal, RECORD_FILE, StoreError, TEMP_FILE, check_commit, check_permissions, judge_permissions,
    read_record,
};

// Recover, and make the named primary's gate writable.
pub use gate::{
    GateError, GateRole, MAX_GATE_EPOCH, PrimaryGrant, RebindError, WalRefused, WriteAuthority, WriteRefused,
};
pub use recovery::{Recovered, recover};

// Explain and observe: explanations, events, metrics, invariant ids.
pub use explain::{AuthorityResult, CheckLine, Outcome, PromotionExplanation, RequestParameters};
pub use invariant::Invariant;
pub use observe::names as event_names;
pub use observe::{EVENT_TARGET, MetricsSnapshot, PromotionMetrics};
