//! Safe replica promotion for AeroDB.
//!
//! A promotion proves from replication, WAL and MVCC state that no acknowledged write can be
//! lost and no second primary can appear, or refuses and says exactly why. Every state is its
//! own type ([`Promotion<S>`]), so only the nine transitions of the protocol compile; the one
//! durable step is [`Promotion::commit`], and only the [`PrimaryGrant`] it yields makes the new
//! primary's [`WriteGate`] writable. The protocol, its invariants (P6-A1 …) and its record
//! format are in this repository's `docs/PROTOCOL.md`.
//!
//! A control plane meets the API in this order:
//!
//! 1. **Observe** the cluster into [`ValidationInputs`] ([`NodeView`], [`AuthorityView`],
//!    [`OldPrimary`], the acknowledged position). What is not observed stays unknown and denies.
//! 2. **Request** a promotion: [`PromotionRequest::builder`], under a [`PromotionPolicy`].
//! 3. **Decide**: [`assess`] is the dry run; a real attempt goes `Promotion<Steady>` →
//!    [`request`](Promotion::request) → [`begin_validation`](Promotion::begin_validation) →
//!    [`decide`](Promotion::decide) → [`Decision`].
//! 4. **Commit**: [`begin_transition`](Promotion::begin_transition) → [`commit`](Promotion::commit)
//!    into an [`AuthorityStore`] ([`FileAuthorityStore`], or your own: see its contract).
//! 5. **Recover** after any restart with [`recover`]; rebind the named primary with its
//!    [`PrimaryGrant`].
//! 6. **Explain**: every outcome has a [`PromotionExplanation`] (text and JSON); events go
//!    through `tracing` (target [`EVENT_TARGET`], names in [`event_names`]); metrics through
//!    [`PromotionMetrics`].
//!
//! ```
//! use aerodb_core::{Epoch, Lsn, MvccBoundary, NodeId, ReplicationState, WalPosition};
//! use aerodb_promotion::prelude::*;
//!
//! # let dir = std::env::temp_dir().join(format!("aerodb-crate-doc-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let mut store = FileAuthorityStore::open(&dir)?; // locks the directory, 0700/0600
//! store.bootstrap(NodeId::new("primary-0")?)?; // epoch 1
//! let recovered = recover(&store)?;
//! let authority = recovered.authority.as_ref().ok_or("no authority")?.view();
//!
//! // What the control plane observed: primary-0 was shut down by the operator; replica-1
//! // holds everything acknowledged (1/120) and rests on a commit boundary.
//! let at = WalPosition::new(Epoch::INITIAL, Lsn::new(120));
//! let replica = NodeView::new(NodeId::new("replica-1")?, ReplicationState::ReplicaActive, at)
//!     .with_history(authority.history.clone())
//!     .with_mvcc(MvccBoundary::at_rest(at.lsn));
//! let inputs = ValidationInputs::new(Some(authority))
//!     .with_node(replica)
//!     .with_old_primary(OldPrimary::ConfirmedStopped)
//!     .with_acknowledged(at);
//! let request = PromotionRequest::builder("replica-1").reason("primary host lost").build()?;
//!
//! // The dry run changes nothing.
//! assert!(matches!(assess(PromotionPolicy::Enabled, &request, &inputs).verdict, Verdict::Approve(_)));
//!
//! let validating = recovered.steady.request(request).begin_validation(PromotionPolicy::Enabled, &inputs)?;
//! let Decision::Approved(approved) = validating.decide(&inputs) else { return Err("denied".into()) };
//! let (_steady, committed) = approved.begin_transition().commit(&mut store)?.complete();
//! assert_eq!(committed.record().epoch(), Epoch::new(2));
//!
//! // Stage 6.5: the commit's one grant makes replica-1's gate, and only it, writable.
//! let gate = WriteGate::replica(NodeId::new("replica-1")?, recovered.authority.as_ref())?;
//! let role = committed.into_grant().rebind(ReplicationState::ReplicaActive, &gate, &store)?;
//! assert_eq!((role, gate.admit_write()?), (ReplicationState::PrimaryActive, Epoch::new(2)));
//! # drop(store);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// No unwrap, expect or panic outside tests (clippy.toml allows them in tests): every failure
// is a typed error an operator can read.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// docs.rs (`--cfg docsrs`, nightly) marks what the `testing` feature adds.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod candidates;
mod checks;
mod codec;
mod commit;
mod compared;
mod denial;
mod display;
mod evidence;
mod explain;
pub mod file_store;
mod gate;
mod inputs;
mod invariant;
mod io;
mod machine;
mod mark;
mod observation_json;
mod record;
mod recovery;
mod request;
mod slot;
mod states;
mod steps;
mod store;
mod telemetry;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
// A test harness (conformance suite, cluster model): failing loudly is its job.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub mod testing;
mod validator;

/// What a control plane needs to drive a promotion end to end — observe, request, decide,
/// commit, recover and rebind, explain — in one glob import. Errors and the less common types
/// are at the crate root; the file store's internals (its I/O seam, file names, permission
/// rule, inspection readers) in [`file_store`].
pub mod prelude {
    pub use crate::{
        AuthorityRecord, AuthorityStore, AuthorityView, CommitFailure, Decision, FileAuthorityStore,
        NodeView, OldPrimary, PrimaryGrant, Promotion, PromotionExplanation, PromotionPolicy,
        PromotionRequest, PromotionSlot, Recovered, Resolution, ValidationInputs, Verdict, WriteGate, assess,
        recover,
    };
}

/// The stored frames' constants: magic bytes, format versions and size bounds of the authority
/// record and the primary report (the bytes themselves live behind `codec`, pinned by its
/// golden-bytes tests; a change of layout bumps the version).
pub mod format {
    pub use crate::codec::{
        FORMAT_VERSION, MAGIC, MAX_FRAME, MAX_PAYLOAD, OLDEST_READABLE_VERSION, REPORT_FORMAT_VERSION,
        REPORT_MAGIC,
    };
}

// Observe the cluster: what the validator reads, gathered by the control plane.
pub use evidence::{
    AcknowledgedSource, Derivation, Evidence, EvidenceError, MAX_SYNC_RULES, MAX_SYNC_STANDBYS,
    OldPrimarySource, PrimaryReport, RuleBound, Stopped, SyncMethod, SyncRule,
};
pub use inputs::{AuthorityView, NodeView, Observation, OldPrimary, ValidationInputs};
pub use observation_json::ObservationJsonError;

// Request a promotion.
pub use request::{
    MAX_REASON_LEN, MAX_REQUEST_ID_LEN, PromotionPolicy, PromotionRequest, PromotionRequestBuilder,
    Rejection, RequestError, TextProblem,
};

// Decide: the typestate machine, the validator and its dry run.
pub use checks::{AuthorityPlan, CheckId, CheckRecord};
pub use compared::Compared;
pub use denial::DenialReason;
pub use machine::{Decision, Rejected};
pub use slot::{PromotionSlot, WentBack};
pub use states::{
    ALLOWED_TRANSITIONS, AuthorityTransitioning, Committed, Promotion, PromotionApproved, PromotionDenied,
    PromotionRequested, PromotionState, PromotionSucceeded, PromotionValidating, StateKind, Steady,
    Transition, transition_reason,
};
pub use validator::{Approval, Assessment, Denial, Verdict, assess};

// Every node as a candidate, and the evidence each refused one lacks.
pub use candidates::{Blocker, Candidate, Candidates, Missing, Remedy, candidates};

// Commit: the authority record, its bytes, and the stores that keep it.
pub use codec::{DecodeError, EncodeError};
pub use commit::CommitError;
pub use file_store::FileAuthorityStore;
pub use machine::{CommitFailure, Resolution};
pub use record::{AuthorityRecord, Force, HISTORY_CAP, PastAuthority, RecordError, RequestSummary};
pub use store::{
    AuthorityStore, Conflict, IoStep, Location, PermissionProblem, Poison, PredecessorMismatch, Proposal,
    ReportRefusal, StoreError, check_commit, check_evidence, check_report, start_over_record,
};

// Recover, and make the named primary's gate writable.
pub use gate::{GateError, GateRole, MAX_GATE_EPOCH, PrimaryGrant, WalRefused, WriteGate, WriteRefused};
pub use mark::NodeMark;
pub use recovery::{RebindError, Recovered, recover};

// Explain and observe: explanations, events, metrics, invariant ids.
pub use explain::{AuthorityAfter, CheckLine, Outcome, PromotionExplanation};
pub use invariant::Invariant;
pub use telemetry::names as event_names;
pub use telemetry::{EVENT_TARGET, MetricsSnapshot, PromotionMetrics};
