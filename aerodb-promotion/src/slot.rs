//! One authority's promotion slot and the claim an attempt holds on it (P6-A1), with the
//! authority's passive metrics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aerodb_core::Epoch;

use crate::record::AuthorityRecord;
use crate::telemetry::{self, PromotionMetrics};

/// One authority's promotion slot: at most one attempt holds it between screening and the
/// return to `Steady`, so a second concurrent attempt in this process is rejected (P6-A1).
/// It also carries the authority's passive [`PromotionMetrics`].
#[derive(Debug, Clone, Default)]
pub struct PromotionSlot {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    busy: AtomicBool,
    /// One more than the newest epoch this handle has granted; 0 before any grant.
    granted: AtomicU64,
    /// The newest record this handle has read or written.
    seen: Mutex<Option<AuthorityRecord>>,
    metrics: PromotionMetrics,
}

/// The slot while an attempt holds it; dropping the claim frees the slot, whichever way the
/// attempt ended. (Public in this private module: it appears in signatures but cannot be named
/// outside the crate.)
#[derive(Debug)]
pub struct Claim {
    slot: PromotionSlot,
}

impl Claim {
    /// The slot this claim holds.
    pub(crate) fn slot(&self) -> &PromotionSlot {
        &self.slot
    }

    /// Frees the slot and hands it back.
    pub(crate) fn release(self) -> PromotionSlot {
        self.slot.clone()
    }
}

impl Drop for Claim {
    /// The gauge goes to 0 before the slot is free, so the next claim's 1 always lands after it.
    fn drop(&mut self) {
        self.slot.metrics().set_in_progress(false);
        self.slot.shared.busy.store(false, Ordering::Release);
    }
}

impl PromotionSlot {
    /// A free slot for one authority.
    pub fn new() -> Self {
        PromotionSlot::default()
    }

    /// Whether an attempt holds the slot now.
    pub fn is_busy(&self) -> bool {
        self.shared.busy.load(Ordering::Acquire)
    }

    /// This authority's promotion metrics.
    pub fn metrics(&self) -> &PromotionMetrics {
        &self.shared.metrics
    }

    /// Whether this handle may hand out the grant for the record at `epoch`: only once per
    /// durable record, and never for one older than a record it already granted (P6-A1).
    pub(crate) fn take_grant(&self, epoch: Epoch) -> bool {
        let next = epoch.get().saturating_add(1);
        self.shared
            .granted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |granted| (next > granted).then_some(next))
            .is_ok()
    }

    /// Every store's `load` passes what it read through here, and every commit what it wrote:
    /// a handle that has seen an authority refuses one older than it, a different record at
    /// the same epoch, or none at all — a restored backup, a replaced or deleted record (P6-A1).
    /// Refusals emit `replication.promotion.authority_went_back`; nothing is decided on them.
    pub fn admit_loaded(&self, loaded: Option<&AuthorityRecord>) -> Result<(), Box<WentBack>> {
        let mut seen = self.shared.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(newest) = seen.as_ref() {
            let forward = loaded.is_some_and(|r| r.epoch() > newest.epoch() || r == newest);
            if !forward {
                telemetry::authority_went_back(newest, loaded);
                return Err(Box::new(WentBack { seen: newest.clone(), found: loaded.cloned() }));
            }
        }
        if loaded.is_some() {
            seen.clone_from(&loaded.cloned());
        }
        Ok(())
    }

    /// Every store's successful commit passes what it made durable through here: the newest
    /// record this handle has seen from now on. It only ever raises what the handle has seen —
    /// never lowers it, nor swaps it for another record at the same epoch — whoever calls it.
    pub fn note_committed(&self, record: &AuthorityRecord) {
        let mut seen = self.shared.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.as_ref().is_none_or(|newest| record.epoch() > newest.epoch()) {
            *seen = Some(record.clone());
        }
    }

    /// Whether `other` is this very slot: the same store handle's.
    pub(crate) fn same(&self, other: &PromotionSlot) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// The slot, unless another attempt holds it (P6-A1).
    pub(crate) fn try_claim(&self) -> Option<Claim> {
        self.shared.busy.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).ok()?;
        self.metrics().set_in_progress(true);
        Some(Claim { slot: self.clone() })
    }
}

/// A reader was shown an authority that went back: older than one it had seen, a different
/// record at the same epoch, or none after one (P6-A1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the authority went back: this handle saw epoch {} (primary {}), the store now holds {}; nothing was decided. \
     A restored backup, a deleted or replaced record? If the authority was truly lost, start over explicitly above every epoch any node reports",
    seen.epoch(),
    seen.primary(),
    found.as_ref().map_or_else(|| "no record".to_owned(), |r| format!("epoch {} (primary {})", r.epoch(), r.primary()))
)]
pub struct WentBack {
    /// The newest record this handle had seen.
    pub seen: AuthorityRecord,
    /// What the store holds now.
    pub found: Option<AuthorityRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// P6-A1: what a handle has seen only rises: a commit noted below it, or beside it at the
    /// same epoch, changes nothing, whoever calls it; loads are judged against the newest.
    #[test]
    fn what_a_handle_has_seen_only_rises() {
        use aerodb_core::{Lsn, NodeId, WalPosition};
        let at = |primary: &str, epoch: u64| {
            let (primary, epoch) = (NodeId::new(primary).unwrap(), Epoch::new(epoch));
            AuthorityRecord::started_over(primary, epoch, WalPosition::new(epoch, Lsn::new(9)), "test")
                .unwrap()
        };
        let slot = PromotionSlot::new();
        assert_eq!(slot.admit_loaded(None), Ok(()), "nothing seen, nothing to go back from");
        slot.note_committed(&at("a", 2));
        slot.note_committed(&at("b", 1));
        slot.note_committed(&at("c", 2));
        assert_eq!(slot.admit_loaded(Some(&at("a", 2))), Ok(()));
        for (what, found) in [("older", Some(at("b", 1))), ("beside", Some(at("c", 2))), ("none", None)] {
            let refused = slot.admit_loaded(found.as_ref()).expect_err(what);
            assert_eq!((refused.seen.clone(), refused.found), (at("a", 2), found), "{what}");
        }
        assert_eq!(slot.admit_loaded(Some(&at("d", 3))), Ok(()), "newer is taken");
        assert!(slot.admit_loaded(Some(&at("a", 2))).is_err(), "and becomes the bar");
        let text = slot.admit_loaded(None).unwrap_err().to_string();
        assert!(
            text.contains("went back") && text.contains("epoch 3") && text.contains("no record"),
            "{text}"
        );
    }

    /// One grant per durable record per handle, none for an older one; clones share the count.
    #[test]
    fn a_slot_grants_each_epoch_once_and_never_an_older_one() {
        let slot = PromotionSlot::new();
        assert!(slot.take_grant(Epoch::new(1)));
        assert!(!slot.take_grant(Epoch::new(1)));
        assert!(!slot.clone().take_grant(Epoch::new(1)));
        assert!(slot.take_grant(Epoch::new(3)));
        assert!(!slot.take_grant(Epoch::new(2)));
        assert!(PromotionSlot::new().take_grant(Epoch::new(0)), "epoch 0 is a record too");
        assert!(slot.take_grant(Epoch::MAX) && !slot.take_grant(Epoch::MAX));
        assert!(slot.same(&slot.clone()) && !slot.same(&PromotionSlot::new()));
    }

    #[test]
    fn the_slot_admits_one_claim_at_a_time() {
        let slot = PromotionSlot::new();
        let claim = slot.try_claim().unwrap();
        assert!(slot.is_busy());
        assert!(slot.try_claim().is_none());
        drop(claim);
        assert!(!slot.is_busy());
        assert!(slot.try_claim().is_some());
    }

    /// While any claim is held the in-progress gauge reads 1: a claim freed by one thread never
    /// resets the gauge of the claim another thread took next. (With the slot freed before the
    /// gauge was reset, this failed within a few thousand rounds.)
    #[test]
    fn the_in_progress_gauge_is_one_while_a_claim_is_held() {
        let slot = PromotionSlot::new();
        let wrong = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    for _ in 0..200_000 {
                        if let Some(claim) = slot.try_claim() {
                            for _ in 0..4 {
                                if slot.metrics().snapshot_in_progress() != 1 {
                                    wrong.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            drop(claim);
                        }
                    }
                });
            }
        });
        assert_eq!(wrong.load(Ordering::Relaxed), 0, "the gauge read 0 while a claim was held");
        assert_eq!(slot.metrics().snapshot_in_progress(), 0);
    }
}
