//! A node's write-admission gate: its (epoch, role) in one atomic word, with epoch fencing (P6-A1).
//!
//! `admit_write` is the only promotion-related code on the steady-state write path: one
//! acquire load and one compare, no lock, no allocation.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::wal::Epoch;

const PRIMARY: u64 = 1 << 63;
const FENCED: u64 = 1 << 62;
const EPOCH_MASK: u64 = FENCED - 1;
const _: () = assert!(EPOCH_MASK == Epoch::MAX.0, "a gate holds exactly the epoch range");

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
pub enum WriteRefused {
    /// This node is a replica.
    #[error("write refused: this node is a replica at epoch {epoch}, not the primary")]
    NotPrimary {
        /// The replica's epoch.
        epoch: Epoch,
    },
    /// This node was the primary at `own` but has seen a higher epoch: it lost authority for
    /// good. ([`WriteAuthority::observed_epoch`] says which; one field keeps the result in
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
pub enum GateError {
    /// Only a replica gate can become primary.
    #[error("only a replica can assume primary authority")]
    NotReplica,
    /// The new epoch must be above every epoch this node has seen.
    #[error("epoch {requested} is not newer than epoch {seen} this node has already seen")]
    EpochNotNewer {
        /// The epoch asked for.
        requested: Epoch,
        /// The newest epoch seen.
        seen: Epoch,
    },
    /// The epoch does not fit the gate's 62 bits.
    #[error("epoch {0} exceeds the largest gate epoch {MAX_GATE_EPOCH}")]
    EpochTooLarge(Epoch),
}

/// A node's write-admission gate.
///
/// Once a primary observes a higher epoch than its own it is fenced: every later write is
/// refused with [`WriteRefused::Fenced`], and nothing clears the fence.
#[derive(Debug)]
pub struct WriteAuthority {
    state: AtomicU64,
    observed: AtomicU64,
}

fn word(role: GateRole, epoch: Epoch) -> Result<u64, GateError> {
    if epoch > MAX_GATE_EPOCH {
        return Err(GateError::EpochTooLarge(epoch));
    }
    Ok(match role {
        GateRole::Primary => PRIMARY | epoch.0,
        GateRole::Replica => epoch.0,
    })
}

impl WriteAuthority {
    /// A gate for `role` at `epoch`.
    pub fn new(role: GateRole, epoch: Epoch) -> Result<Self, GateError> {
        Ok(WriteAuthority { state: AtomicU64::new(word(role, epoch)?), observed: AtomicU64::new(epoch.0) })
    }

    /// Admits a client write, returning the epoch it is written in.
    #[inline]
    pub fn admit_write(&self) -> Result<Epoch, WriteRefused> {
        let state = self.state.load(Ordering::Acquire);
        if state & (PRIMARY | FENCED) == PRIMARY {
            Ok(Epoch(state & EPOCH_MASK))
        } else {
            Err(Self::refusal(state))
        }
    }

    #[cold]
    fn refusal(state: u64) -> WriteRefused {
        let own = Epoch(state & EPOCH_MASK);
        if state & FENCED != 0 {
            WriteRefused::Fenced { own }
        } else {
            WriteRefused::NotPrimary { epoch: own }
        }
    }

    /// The highest epoch this node has seen (its own, or the one that fenced it).
    pub fn observed_epoch(&self) -> Epoch {
        Epoch(self.observed.load(Ordering::Acquire))
    }

    /// Records that epoch `epoch` exists. A primary below it is fenced forever (P6-A1);
    /// a replica follows it.
    pub fn observe_epoch(&self, epoch: Epoch) {
        self.observed.fetch_max(epoch.0, Ordering::AcqRel);
        let _ = self.state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
            let own = state & EPOCH_MASK;
            if epoch.0 <= own {
                None
            } else if state & PRIMARY != 0 {
                Some(state | FENCED)
            } else {
                Some(epoch.0.min(EPOCH_MASK))
            }
        });
    }

    /// Checks WAL sent by a node at `sender`: a replica refuses an older epoch and follows a newer one.
    pub fn admit_wal(&self, sender: Epoch) -> Result<(), WalRefused> {
        let state = self.state.load(Ordering::Acquire);
        if state & PRIMARY != 0 {
            return Err(WalRefused::NotReplica);
        }
        let own = Epoch(state & EPOCH_MASK);
        if sender < own {
            return Err(WalRefused::StaleEpoch { sender, own });
        }
        self.observe_epoch(sender);
        Ok(())
    }

    /// Turns this replica's gate into the primary's at `epoch`, which must be newer than any
    /// epoch it has seen. Called after the durable promotion commit.
    pub fn assume_primary(&self, epoch: Epoch) -> Result<(), GateError> {
        let target = word(GateRole::Primary, epoch)?;
        let mut outcome = Ok(());
        let _ = self.state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
            let seen = Epoch((state & EPOCH_MASK).max(self.observed.load(Ordering::Acquire)));
            outcome = if state & PRIMARY != 0 {
                Err(GateError::NotReplica)
            } else if epoch <= seen {
                Err(GateError::EpochNotNewer { requested: epoch, seen })
            } else {
                Ok(())
            };
            outcome.ok().map(|()| target)
        });
        if outcome.is_ok() {
            self.observed.fetch_max(epoch.0, Ordering::AcqRel);
        }
        outcome
    }

    /// The gate's own epoch.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.state.load(Ordering::Acquire) & EPOCH_MASK)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_primary_admits_writes_at_its_epoch() {
        let gate = WriteAuthority::new(GateRole::Primary, Epoch(3)).unwrap();
        assert_eq!(gate.admit_write(), Ok(Epoch(3)));
        gate.observe_epoch(Epoch(2));
        gate.observe_epoch(Epoch(3));
        assert_eq!(gate.admit_write(), Ok(Epoch(3)));
    }

    #[test]
    fn a_replica_never_admits_writes() {
        let gate = WriteAuthority::new(GateRole::Replica, Epoch(3)).unwrap();
        assert_eq!(gate.admit_write(), Err(WriteRefused::NotPrimary { epoch: Epoch(3) }));
    }

    #[test]
    fn a_higher_epoch_fences_a_primary_for_good() {
        let gate = WriteAuthority::new(GateRole::Primary, Epoch(3)).unwrap();
        gate.observe_epoch(Epoch(4));
        assert_eq!(gate.admit_write(), Err(WriteRefused::Fenced { own: Epoch(3) }));
        assert_eq!(gate.observed_epoch(), Epoch(4));
        assert!(gate.is_fenced());
        assert_eq!(gate.assume_primary(Epoch(9)), Err(GateError::NotReplica));
        assert!(gate.admit_write().is_err());
    }

    #[test]
    fn a_replica_follows_newer_epochs_and_refuses_older_wal() {
        let gate = WriteAuthority::new(GateRole::Replica, Epoch(3)).unwrap();
        assert_eq!(gate.admit_wal(Epoch(4)), Ok(()));
        assert_eq!(gate.epoch(), Epoch(4));
        assert_eq!(gate.admit_wal(Epoch(3)), Err(WalRefused::StaleEpoch { sender: Epoch(3), own: Epoch(4) }));
        assert!(!gate.is_fenced());
    }

    #[test]
    fn a_primary_accepts_no_wal() {
        let gate = WriteAuthority::new(GateRole::Primary, Epoch(1)).unwrap();
        assert_eq!(gate.admit_wal(Epoch(1)), Err(WalRefused::NotReplica));
    }

    #[test]
    fn a_replica_assumes_only_a_newer_epoch() {
        let gate = WriteAuthority::new(GateRole::Replica, Epoch(3)).unwrap();
        assert_eq!(
            gate.assume_primary(Epoch(3)),
            Err(GateError::EpochNotNewer { requested: Epoch(3), seen: Epoch(3) })
        );
        gate.observe_epoch(Epoch(5));
        assert_eq!(
            gate.assume_primary(Epoch(5)),
            Err(GateError::EpochNotNewer { requested: Epoch(5), seen: Epoch(5) })
        );
        assert_eq!(gate.assume_primary(Epoch(6)), Ok(()));
        assert_eq!(gate.admit_write(), Ok(Epoch(6)));
        assert_eq!(gate.role(), GateRole::Primary);
    }

    #[test]
    fn the_admission_result_fits_in_two_registers() {
        assert_eq!(size_of::<Result<Epoch, WriteRefused>>(), 2 * size_of::<u64>());
    }

    #[test]
    fn epochs_beyond_62_bits_are_refused() {
        let too_big = Epoch(MAX_GATE_EPOCH.0 + 1);
        assert_eq!(
            WriteAuthority::new(GateRole::Primary, too_big).err(),
            Some(GateError::EpochTooLarge(too_big))
        );
        assert!(WriteAuthority::new(GateRole::Primary, MAX_GATE_EPOCH).is_ok());
    }
}
