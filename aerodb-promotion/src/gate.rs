//! A node's write-admission gate: its (epoch, role) in one atomic word, with epoch fencing
//! (P6-A1), and the [`PrimaryGrant`] that alone makes a gate writable (P6-A3).
//!
//! `admit_write` is the only promotion-related code on the steady-state write path: one
//! acquire load and one compare, no lock, no allocation. The gate lives beside the authority
//! record because becoming writable needs proof of that record: a gate starts as a replica's,
//! and only a grant minted from a durable record naming its node turns it into the primary's.

use std::sync::atomic::{AtomicU64, Ordering};

use aerodb_core::{Epoch, NodeId};

use crate::record::AuthorityRecord;
use crate::slot::PromotionSlot;

const PRIMARY: u64 = 1 << 63;
const FENCED: u64 = 1 << 62;
const EPOCH_MASK: u64 = FENCED - 1;
const _: () = assert!(EPOCH_MASK == Epoch::MAX.get(), "a gate holds exactly the epoch range");

/// Largest epoch a gate can hold: [`Epoch::MAX`] (62 bits; the top two bits hold the role
/// and the fence).
pub const MAX_GATE_EPOCH: Epoch = Epoch::MAX;

/// The role a gate admits writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GateRole {
    /// Admits writes unless fenced.
    Primary,
    /// Never admits client writes; follows the primary's epoch.
    Replica,
}

/// Why a write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteRefused {
    /// This node is a replica.
    #[error("write refused: this node is a replica at epoch {epoch}, not the primary")]
    NotPrimary {
        /// The replica's epoch.
        epoch: Epoch,
    },
    /// This node was the primary at `own` but has seen a higher epoch: it lost authority for
    /// good. ([`WriteGate::observed_epoch`] says which; one field keeps the result in
    /// registers on the write path.)
    #[error(
        "write refused: this node was primary at epoch {own} but a newer epoch exists; it is fenced (P6-A1)"
    )]
    Fenced {
        /// The epoch this node led.
        own: Epoch,
    },
}

/// Why WAL from another node was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WalRefused {
    /// The sender's epoch is older than this node's: it is a deposed primary.
    #[error("WAL refused: sender is at epoch {sender}, older than this node's epoch {own}")]
    StaleEpoch {
        /// The sender's epoch.
        sender: Epoch,
        /// This node's epoch.
        own: Epoch,
    },
    /// A primary does not accept WAL from others.
    #[error("WAL refused: this node is a primary")]
    NotReplica,
}

/// Why a gate could not take on primary authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    /// Only a gate that is not already a primary's can become primary: a grant is used once.
    #[error("only a replica's gate can assume primary authority; this gate already is a primary's")]
    NotReplica,
    /// The grant's epoch is older than one this node has already seen: a newer authority exists.
    #[error("granted epoch {granted} is older than epoch {seen} this node has already seen")]
    Superseded {
        /// The epoch the grant names.
        granted: Epoch,
        /// The newest epoch seen.
        seen: Epoch,
    },
    /// The epoch does not fit the gate's 62 bits.
    #[error("epoch {0} exceeds the largest gate epoch {MAX_GATE_EPOCH}")]
    EpochTooLarge(Epoch),
}

/// A node's write-admission gate.
///
/// Made as a replica's ([`WriteGate::replica`]); only [`PrimaryGrant::rebind`] makes it
/// the primary's (P6-A3). Once a primary observes a higher epoch than its own it is fenced:
/// every later write is refused with [`WriteRefused::Fenced`], and nothing clears the fence.
#[derive(Debug)]
pub struct WriteGate {
    node: NodeId,
    state: AtomicU64,
    observed: AtomicU64,
}

fn word(role: GateRole, epoch: Epoch) -> Result<u64, GateError> {
    if epoch > MAX_GATE_EPOCH {
        return Err(GateError::EpochTooLarge(epoch));
    }
    Ok(match role {
        GateRole::Primary => PRIMARY | epoch.get(),
        GateRole::Replica => epoch.get(),
    })
}

impl WriteGate {
    /// The gate of `node`, admitting no client writes: a replica following the durable
    /// `authority` it has read (`None`: no authority yet, epoch 0). Its starting epoch comes from
    /// durable state, never from a caller's number, so it refuses everything older. Only a
    /// [`PrimaryGrant`] naming `node` makes it writable.
    pub fn replica(node: NodeId, authority: Option<&AuthorityRecord>) -> Result<Self, GateError> {
        Self::at_epoch(node, authority.map_or(Epoch::new(0), AuthorityRecord::epoch))
    }

    /// A replica's gate following `epoch`, which the caller read from durable state.
    pub(crate) fn at_epoch(node: NodeId, epoch: Epoch) -> Result<Self, GateError> {
        Ok(WriteGate {
            node,
            state: AtomicU64::new(word(GateRole::Replica, epoch)?),
            observed: AtomicU64::new(epoch.get()),
        })
    }

    /// The node this gate admits writes for.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Admits a client write, returning the epoch it is written in.
    #[inline]
    pub fn admit_write(&self) -> Result<Epoch, WriteRefused> {
        let state = self.state.load(Ordering::Acquire);
        if state & (PRIMARY | FENCED) == PRIMARY {
            Ok(Epoch::new(state & EPOCH_MASK))
        } else {
            Err(Self::refusal(state))
        }
    }

    #[cold]
    fn refusal(state: u64) -> WriteRefused {
        let own = Epoch::new(state & EPOCH_MASK);
        if state & FENCED != 0 {
            WriteRefused::Fenced { own }
        } else {
            WriteRefused::NotPrimary { epoch: own }
        }
    }

    /// The highest epoch this node has seen (its own, or the one that fenced it).
    pub fn observed_epoch(&self) -> Epoch {
        Epoch::new(self.observed.load(Ordering::Acquire))
    }

    /// Records that epoch `epoch` exists. A primary below it is fenced forever (P6-A1);
    /// a replica follows it.
    pub fn observe_epoch(&self, epoch: Epoch) {
        self.observed.fetch_max(epoch.get(), Ordering::AcqRel);
        let _ = self.state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
            let own = state & EPOCH_MASK;
            if epoch.get() <= own {
                None
            } else if state & PRIMARY != 0 {
                Some(state | FENCED)
            } else {
                Some(epoch.get().min(EPOCH_MASK))
            }
        });
    }

    /// Checks WAL sent by a node at `sender`: a replica refuses an older epoch and follows a newer one.
    pub fn admit_wal(&self, sender: Epoch) -> Result<(), WalRefused> {
        let state = self.state.load(Ordering::Acquire);
        if state & PRIMARY != 0 {
            return Err(WalRefused::NotReplica);
        }
        let own = Epoch::new(state & EPOCH_MASK);
        if sender < own {
            return Err(WalRefused::StaleEpoch { sender, own });
        }
        self.observe_epoch(sender);
        Ok(())
    }

    /// Turns this replica's gate into the primary's at `epoch`, which must not be older than any
    /// epoch it has seen. Only [`PrimaryGrant::rebind`] calls this (P6-A3).
    pub(crate) fn assume_primary(&self, epoch: Epoch) -> Result<(), GateError> {
        let target = word(GateRole::Primary, epoch)?;
        let mut outcome = Ok(());
        let _ = self.state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
            let seen = Epoch::new((state & EPOCH_MASK).max(self.observed.load(Ordering::Acquire)));
            outcome = if state & PRIMARY != 0 {
                Err(GateError::NotReplica)
            } else if epoch < seen {
                Err(GateError::Superseded { granted: epoch, seen })
            } else {
                Ok(())
            };
            outcome.ok().map(|()| target)
        });
        if outcome.is_ok() {
            self.observed.fetch_max(epoch.get(), Ordering::AcqRel);
        }
        outcome
    }

    /// The gate's own epoch.
    pub fn epoch(&self) -> Epoch {
        Epoch::new(self.state.load(Ordering::Acquire) & EPOCH_MASK)
    }

    /// The gate's role.
    pub fn role(&self) -> GateRole {
        if self.state.load(Ordering::Acquire) & PRIMARY != 0 { GateRole::Primary } else { GateRole::Replica }
    }

    /// Whether this gate was fenced.
    pub fn is_fenced(&self) -> bool {
        self.state.load(Ordering::Acquire) & FENCED != 0
    }
}

/// Proof that a durable authority record names [`node`](Self::node) as the primary at
/// [`epoch`](Self::epoch): the only thing that makes a gate writable (P6-A3).
///
/// Minted only by this crate, from a record that is durable: a committed promotion
/// ([`Committed::into_grant`](crate::Committed::into_grant)) or a recovered record, bootstrap
/// included ([`Recovered::grant`](crate::Recovered::grant)). A store handle mints at most one
/// grant per durable record. Not `Clone`; [`rebind`](Self::rebind) consumes it, and works only
/// while the record it names is still the durable authority of the store that minted it.
#[must_use = "a grant is the only way to make the named node's gate writable"]
#[derive(Debug)]
pub struct PrimaryGrant {
    pub(crate) record: AuthorityRecord,
    /// The slot of the store handle that minted it: the store it must be used with.
    pub(crate) slot: PromotionSlot,
}

/// Grants are equal when they name the same record; which handle minted them is not a value.
impl PartialEq for PrimaryGrant {
    fn eq(&self, other: &Self) -> bool {
        self.record == other.record
    }
}

impl Eq for PrimaryGrant {}

impl PrimaryGrant {
    /// The grant for the durable `record` from the store handle whose slot is `slot`, unless
    /// that handle already handed one out for this record or a newer one (P6-A1).
    pub(crate) fn mint(record: &AuthorityRecord, slot: &PromotionSlot) -> Option<Self> {
        slot.take_grant(record.epoch()).then(|| PrimaryGrant { record: record.clone(), slot: slot.clone() })
    }

    /// The grant for the record a commit through `slot`'s handle just made durable: a new epoch,
    /// so the handle has granted none at it (a store that went back is refused at `rebind`).
    pub(crate) fn committed(record: &AuthorityRecord, slot: &PromotionSlot) -> Self {
        let _first = slot.take_grant(record.epoch());
        PrimaryGrant { record: record.clone(), slot: slot.clone() }
    }

    /// The node the durable record names as primary.
    pub fn node(&self) -> NodeId {
        self.record.primary()
    }

    /// The record's epoch.
    pub fn epoch(&self) -> Epoch {
        self.record.epoch()
    }

    /// The durable record this grant was minted from.
    pub fn record(&self) -> &AuthorityRecord {
        &self.record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> NodeId {
        NodeId::new(name).unwrap()
    }

    /// A primary's gate at `epoch`, as a grant's rebind leaves it.
    fn primary(epoch: Epoch) -> WriteGate {
        let gate = WriteGate::replica(node("p"), None).unwrap();
        gate.assume_primary(epoch).unwrap();
        gate
    }

    #[test]
    fn a_primary_admits_writes_at_its_epoch() {
        let gate = primary(Epoch::new(3));
        assert_eq!(gate.admit_write(), Ok(Epoch::new(3)));
        gate.observe_epoch(Epoch::new(2));
        gate.observe_epoch(Epoch::new(3));
        assert_eq!(gate.admit_write(), Ok(Epoch::new(3)));
    }

    #[test]
    fn a_replica_never_admits_writes() {
        let gate = WriteGate::at_epoch(node("r"), Epoch::new(3)).unwrap();
        assert_eq!(gate.role(), GateRole::Replica);
        assert_eq!(primary(Epoch::new(3)).role(), GateRole::Primary);
        assert_eq!(gate.admit_write(), Err(WriteRefused::NotPrimary { epoch: Epoch::new(3) }));
    }

    #[test]
    fn a_higher_epoch_fences_a_primary_for_good() {
        let gate = primary(Epoch::new(3));
        gate.observe_epoch(Epoch::new(4));
        assert_eq!(gate.admit_write(), Err(WriteRefused::Fenced { own: Epoch::new(3) }));
        assert_eq!(gate.observed_epoch(), Epoch::new(4));
        assert!(gate.is_fenced());
        assert_eq!(gate.assume_primary(Epoch::new(9)), Err(GateError::NotReplica));
        assert!(gate.admit_write().is_err());
    }

    #[test]
    fn a_replica_follows_newer_epochs_and_refuses_older_wal() {
        let gate = WriteGate::at_epoch(node("r"), Epoch::new(3)).unwrap();
        assert_eq!(gate.admit_wal(Epoch::new(4)), Ok(()));
        assert_eq!(gate.epoch(), Epoch::new(4));
        assert_eq!(
            gate.admit_wal(Epoch::new(3)),
            Err(WalRefused::StaleEpoch { sender: Epoch::new(3), own: Epoch::new(4) })
        );
        assert!(!gate.is_fenced());
    }

    #[test]
    fn a_primary_accepts_no_wal() {
        let gate = primary(Epoch::new(1));
        assert_eq!(gate.admit_wal(Epoch::new(1)), Err(WalRefused::NotReplica));
    }

    #[test]
    fn a_replica_assumes_no_epoch_older_than_it_has_seen() {
        let gate = WriteGate::at_epoch(node("r"), Epoch::new(3)).unwrap();
        assert_eq!(
            gate.assume_primary(Epoch::new(2)),
            Err(GateError::Superseded { granted: Epoch::new(2), seen: Epoch::new(3) })
        );
        gate.observe_epoch(Epoch::new(5));
        assert_eq!(
            gate.assume_primary(Epoch::new(4)),
            Err(GateError::Superseded { granted: Epoch::new(4), seen: Epoch::new(5) })
        );
        assert_eq!(gate.assume_primary(Epoch::new(5)), Ok(()));
        assert_eq!(gate.admit_write(), Ok(Epoch::new(5)));
        assert_eq!(gate.role(), GateRole::Primary);
        assert_eq!(gate.assume_primary(Epoch::new(6)), Err(GateError::NotReplica));
    }

    #[test]
    fn the_admission_result_fits_in_two_registers() {
        assert_eq!(size_of::<Result<Epoch, WriteRefused>>(), 2 * size_of::<u64>());
    }

    #[test]
    fn epochs_beyond_62_bits_are_refused() {
        let too_big = Epoch::new(MAX_GATE_EPOCH.get() + 1);
        assert_eq!(WriteGate::at_epoch(node("r"), too_big).err(), Some(GateError::EpochTooLarge(too_big)));
        assert!(WriteGate::at_epoch(node("r"), MAX_GATE_EPOCH).is_ok());
        assert_eq!(primary(MAX_GATE_EPOCH).admit_write(), Ok(MAX_GATE_EPOCH));
    }
}

#[cfg(test)]
mod properties {
    use aerodb_core::testing::check;
    use quickcheck::{Arbitrary, Gen};

    use super::*;

    #[derive(Debug, Clone)]
    enum Observation {
        Epoch(u64),
        Wal(u64),
        Assume(u64),
    }

    impl Arbitrary for Observation {
        fn arbitrary(g: &mut Gen) -> Self {
            let e = u64::arbitrary(g) % 12;
            match u8::arbitrary(g) % 3 {
                0 => Observation::Epoch(e),
                1 => Observation::Wal(e),
                _ => Observation::Assume(e),
            }
        }
    }

    /// Once a primary is fenced, no sequence of observations admits a write again.
    #[test]
    fn fencing_is_monotonic() {
        fn prop(own: u8, observations: Vec<Observation>) -> bool {
            let own = Epoch::new(u64::from(own % 6) + 1);
            let gate = WriteGate::replica(NodeId::new("p").unwrap(), None).unwrap();
            gate.assume_primary(own).unwrap();
            let mut fenced = false;
            for observation in observations {
                match observation {
                    Observation::Epoch(e) => gate.observe_epoch(Epoch::new(e)),
                    Observation::Wal(e) => {
                        let _ = gate.admit_wal(Epoch::new(e));
                    }
                    Observation::Assume(e) => {
                        let _ = gate.assume_primary(Epoch::new(e));
                    }
                }
                let admitted = gate.admit_write().is_ok();
                if fenced && admitted {
                    return false;
                }
                fenced |= !admitted;
            }
            true
        }
        check("fencing_is_monotonic", 500, prop as fn(u8, Vec<Observation>) -> bool);
    }
}
