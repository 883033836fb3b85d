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
pub mod codec;
mod commit;
mod display;
pub mod explain;
pub mod gate;
mod inputs;
pub mod invariant;
pub mod io;
mod machine;
pub mod observe;
pub mod record;
pub mod recovery;
pub mod request;
mod slot;
mod states;
mod steps;
pub mod store;
pub mod testing;
pub mod validator;

pub use checks::{AuthorityPlan, CheckId, CheckRecord, Compared, DenialReason};
pub use codec::{DecodeError, EncodeError};
pub use commit::CommitError;
pub use explain::{AuthorityResult, CheckLine, Outcome, PromotionExplanation, RequestParameters};
pub use gate::{
    GateError, GateRole, MAX_GATE_EPOCH, PrimaryGrant, RebindError, WalRefused, WriteAuthority, WriteRefused,
};
pub use inputs::{AuthorityView, NodeView, OldPrimary, ValidationInputs};
pub use invariant::Invariant;
pub use machine::{CommitFailure, Decision, Rejected, Resolution};
pub use observe::{MetricsSnapshot, PromotionMetrics};
pub use record::{AuthorityRecord, Force, HISTORY_CAP, PastAuthority, RecordError, RequestSummary};
pub use recovery::{Recovered, recover};
pub use request::{PromotionPolicy, PromotionRequest, PromotionRequestBuilder, Rejection, RequestError};
pub use slot::PromotionSlot;
pub use states::{
    ALLOWED_TRANSITIONS, AuthorityTransitioning, Committed, Promotion, PromotionApproved, PromotionDenied,
    PromotionRequested, PromotionState, PromotionSucceeded, PromotionValidating, StateKind, Steady,
    Transition, transition_reason,
};
pub use store::{
    AuthorityStore, FileAuthorityStore, IoStep, OpenReport, PermissionProblem, Proposal, StoreError,
    check_commit, check_permissions, judge_permissions, read_record,
};
pub use validator::{Approval, Assessment, Denial, Verdict, assess};
