//! Passive observability (§6, P6-O1): spec-named `tracing` events and [`PromotionMetrics`].
//!
//! Nothing here is read by a decision. Events go to whatever subscriber is installed (or
//! none); metrics are atomics read only by [`PromotionMetrics::snapshot`] and
//! [`PromotionMetrics::prometheus`].

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use aerodb_core::NodeId;
use serde::{Deserialize, Serialize};

use crate::display::Ids;
use crate::invariant::Invariant;
use crate::record::{AuthorityRecord, Force};
use crate::request::PromotionRequest;

/// The `tracing` target of every promotion event.
pub const EVENT_TARGET: &str = "aerodb::promotion";

/// The event names of docs/PROTOCOL.md §6, plus `completed`, the final outcome of an attempt (P6-O1).
pub mod names {
    /// A request entered `PromotionRequested`.
    pub const REQUESTED: &str = "replication.promotion.requested";
    /// Screening passed; the validator runs.
    pub const VALIDATION_STARTED: &str = "replication.promotion.validation_started";
    /// The request was refused, at screening or by the validator.
    pub const VALIDATION_FAILED: &str = "replication.promotion.validation_failed";
    /// Every check passed.
    pub const VALIDATION_SUCCEEDED: &str = "replication.promotion.validation_succeeded";
    /// The authority switch began.
    pub const TRANSITION_STARTED: &str = "replication.promotion.transition_started";
    /// The new authority record is durable.
    pub const TRANSITION_COMPLETED: &str = "replication.promotion.transition_completed";
    /// A promotion was cut short (crash leftovers found, or a failed commit): recovery decides.
    pub const ABORTED_ON_CRASH: &str = "replication.promotion.aborted_on_crash";
    /// The attempt ended and the machine is back in `Steady`, with its outcome.
    pub const COMPLETED: &str = "replication.promotion.completed";
    /// A reader was shown an authority older than one it had already seen, or none after one: a
    /// restored backup, a deleted or replaced record. Refused; nothing was decided (P6-A1).
    pub const AUTHORITY_WENT_BACK: &str = "replication.promotion.authority_went_back";
}

/// The fields every request-related event carries.
#[derive(Clone, Copy)]
pub(crate) struct TransitionEvent<'a> {
    pub from: &'static str,
    pub to: &'static str,
    pub reason: &'static str,
    pub invariants: &'a [Invariant],
}

macro_rules! promotion_event {
    ($name:expr, $t:expr, $request:expr $(, $($field:tt)+)?) => {
        tracing::event!(
            name: $name,
            target: "aerodb::promotion",
            tracing::Level::INFO,
            event = $name,
            requested_replica_id = $request.candidate().as_str(),
            force = $request.force(),
            transition = format!("{} -> {}", $t.from, $t.to).as_str(),
            transition_reason = $t.reason,
            $($($field)+,)?
            invariants = Ids($t.invariants, ",").to_string().as_str()
        )
    };
}

/// `current_primary_id` is looked up only if a subscriber takes the event, and is absent when
/// unknown, as are an absent reason and request id: no field is ever blank.
pub(crate) fn requested(t: TransitionEvent<'_>, request: &PromotionRequest, metrics: &PromotionMetrics) {
    promotion_event!(
        names::REQUESTED,
        t,
        request,
        current_primary_id = metrics.current_primary().as_ref().map(NodeId::as_str),
        reason = request.reason(),
        request_id = request.request_id()
    );
}

pub(crate) fn validation_started(t: TransitionEvent<'_>, request: &PromotionRequest) {
    promotion_event!(names::VALIDATION_STARTED, t, request);
}

pub(crate) fn validation_failed(
    t: TransitionEvent<'_>,
    request: &PromotionRequest,
    failed: Invariant,
    failure_reason: &dyn std::fmt::Display,
) {
    promotion_event!(
        names::VALIDATION_FAILED,
        t,
        request,
        failed_invariant = failed.id(),
        failure_reason = failure_reason.to_string().as_str()
    );
}

pub(crate) fn validation_succeeded(t: TransitionEvent<'_>, request: &PromotionRequest, force_asserted: bool) {
    promotion_event!(names::VALIDATION_SUCCEEDED, t, request, force_asserted = force_asserted);
}

pub(crate) fn transition_started(t: TransitionEvent<'_>, request: &PromotionRequest, new_epoch: u64) {
    promotion_event!(names::TRANSITION_STARTED, t, request, new_epoch = new_epoch);
}

/// `force_use` says whether force was requested and whether it carried the decision (P6-A1a).
pub(crate) fn transition_completed(
    t: TransitionEvent<'_>,
    request: &PromotionRequest,
    new_primary: NodeId,
    epoch: u64,
    force_use: Force,
) {
    promotion_event!(
        names::TRANSITION_COMPLETED,
        t,
        request,
        new_primary_id = new_primary.as_str(),
        epoch = epoch,
        force_use = force_use.as_str()
    );
}

pub(crate) fn completed(t: TransitionEvent<'_>, request: &PromotionRequest, outcome: &'static str) {
    promotion_event!(names::COMPLETED, t, request, outcome = outcome);
}

/// A promotion cut short in `last_known_state` (a failed commit, or leftovers of a crashed one
/// found at open): recovery decides from the durable record (P6-F2, P6-D2).
pub(crate) fn aborted_on_crash(
    last_known_state: &'static str,
    request: Option<&PromotionRequest>,
    cause: &dyn std::fmt::Display,
) {
    tracing::event!(
        name: names::ABORTED_ON_CRASH,
        target: "aerodb::promotion",
        tracing::Level::WARN,
        event = names::ABORTED_ON_CRASH,
        last_known_state = last_known_state,
        requested_replica_id = request.map(PromotionRequest::candidate).as_ref().map(NodeId::as_str),
        force = request.is_some_and(PromotionRequest::force),
        invariants = Ids(&[Invariant::P6F2, Invariant::P6D2], ",").to_string().as_str(),
        cause = cause.to_string().as_str(),
    );
}

/// A reader refused an authority that went back from `seen` to `found` (P6-A1, P6-F1).
pub(crate) fn authority_went_back(seen: &AuthorityRecord, found: Option<&AuthorityRecord>) {
    tracing::event!(
        name: names::AUTHORITY_WENT_BACK,
        target: "aerodb::promotion",
        tracing::Level::ERROR,
        event = names::AUTHORITY_WENT_BACK,
        seen_epoch = seen.epoch().get(),
        seen_primary = seen.primary().as_str(),
        found_epoch = found.map(|r| r.epoch().get()),
        found_primary = found.map(AuthorityRecord::primary).as_ref().map(NodeId::as_str),
        invariants = Ids(&[Invariant::P6A1, Invariant::P6F1], ",").to_string().as_str(),
    );
}

/// Passive promotion metrics for one authority, updated with atomics as attempts move.
#[derive(Debug, Default)]
pub struct PromotionMetrics {
    requests: AtomicU64,
    success: AtomicU64,
    denied: AtomicU64,
    crash_abort: AtomicU64,
    in_progress: AtomicU64,
    /// Every primary seen, the current one last.
    primaries: Mutex<Vec<NodeId>>,
}

/// A point-in-time copy of [`PromotionMetrics`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    /// `replication_promotion_requests_total`.
    pub requests_total: u64,
    /// `replication_promotion_success_total`.
    pub success_total: u64,
    /// `replication_promotion_denied_total` (validator denials and immediate rejections).
    pub denied_total: u64,
    /// `replication_promotion_crash_abort_total` (crash leftovers found, failed commits).
    pub crash_abort_total: u64,
    /// `replication_promotion_in_progress`: 1 while an attempt holds the slot.
    pub in_progress: u64,
    /// `replication_current_primary` by replica id: 1 for the primary, 0 for earlier ones.
    pub current_primary: BTreeMap<String, u8>,
}

impl PromotionMetrics {
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn success(&self) {
        self.success.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn denied(&self) {
        self.denied.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn crash_abort(&self) {
        self.crash_abort.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn set_in_progress(&self, busy: bool) {
        self.in_progress.store(u64::from(busy), Ordering::Relaxed);
    }
    #[cfg(test)]
    pub(crate) fn snapshot_in_progress(&self) -> u64 {
        self.in_progress.load(Ordering::Relaxed)
    }
    pub(crate) fn set_primary(&self, primary: NodeId) {
        let mut primaries = self.primaries.lock().unwrap_or_else(PoisonError::into_inner);
        if primaries.last() != Some(&primary) {
            primaries.retain(|p| *p != primary);
            primaries.push(primary);
        }
    }
    pub(crate) fn current_primary(&self) -> Option<NodeId> {
        let primaries = self.primaries.lock().unwrap_or_else(PoisonError::into_inner);
        primaries.last().copied()
    }

    /// The current values.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let primaries = self.primaries.lock().unwrap_or_else(PoisonError::into_inner);
        MetricsSnapshot {
            requests_total: self.requests.load(Ordering::Relaxed),
            success_total: self.success.load(Ordering::Relaxed),
            denied_total: self.denied.load(Ordering::Relaxed),
            crash_abort_total: self.crash_abort.load(Ordering::Relaxed),
            in_progress: self.in_progress.load(Ordering::Relaxed),
            current_primary: primaries
                .iter()
                .map(|id| (id.to_string(), u8::from(Some(id) == primaries.last())))
                .collect(),
        }
    }

    /// The metrics in Prometheus text exposition format.
    pub fn prometheus(&self) -> String {
        self.snapshot().prometheus()
    }
}

impl MetricsSnapshot {
    /// Prometheus text exposition format, `# HELP` and `# TYPE` lines included.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let counters = [
            ("replication_promotion_requests_total", "Promotion requests received.", self.requests_total),
            ("replication_promotion_success_total", "Promotions made durable.", self.success_total),
            ("replication_promotion_denied_total", "Promotions denied or rejected.", self.denied_total),
            (
                "replication_promotion_crash_abort_total",
                "Promotions aborted by a crash or failed commit.",
                self.crash_abort_total,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        }
        let _ = writeln!(
            out,
            "# HELP replication_current_primary 1 for the replica holding write authority.\n# TYPE replication_current_primary gauge"
        );
        for (id, value) in &self.current_primary {
            let _ = writeln!(out, "replication_current_primary{{replica_id=\"{id}\"}} {value}");
        }
        let _ = writeln!(
            out,
            "# HELP replication_promotion_in_progress 1 while a promotion attempt is in flight.\n# TYPE replication_promotion_in_progress gauge\nreplication_promotion_in_progress {}",
            self.in_progress
        );
        out
    }
}
