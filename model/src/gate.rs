//! A node's write gate as model state: the value of the library's `WriteGate` (its role,
//! epoch and fence bits and the highest epoch it observed), with the same four operations. The
//! real gate is atomics, neither `Clone` nor `Hash`, so the model keeps its value; the test
//! `gate_mirror_agrees_with_the_real_gate` replays every short sequence of operations on both
//! and compares them, so this mirror cannot drift from `aerodb-promotion/src/gate.rs` unseen.

/// The value of one `WriteGate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gate {
    /// The gate's own epoch.
    pub epoch: u64,
    /// Whether it is a primary's gate.
    pub primary: bool,
    /// Whether a primary's gate saw a higher epoch (P6-A1): no write is admitted again.
    pub fenced: bool,
    /// The highest epoch seen.
    pub observed: u64,
}

impl Gate {
    /// A replica's gate following `epoch` (`WriteGate::replica` of a record at `epoch`).
    pub fn replica(epoch: u64) -> Self {
        Gate { epoch, primary: false, fenced: false, observed: epoch }
    }

    /// `admit_write`: the epoch a client write is written in, if admitted.
    pub fn admit_write(&self) -> Option<u64> {
        (self.primary && !self.fenced).then_some(self.epoch)
    }

    /// `observe_epoch`: a primary below `epoch` is fenced for good; a replica follows it.
    pub fn observe_epoch(&mut self, epoch: u64) {
        self.observed = self.observed.max(epoch);
        if epoch > self.epoch {
            if self.primary {
                self.fenced = true;
            } else {
                self.epoch = epoch;
            }
        }
    }

    /// `admit_wal`: WAL from a sender at `sender` is refused by a primary and by a replica that
    /// follows a newer epoch; otherwise the replica follows the sender's epoch.
    pub fn admit_wal(&mut self, sender: u64) -> bool {
        if self.primary || sender < self.epoch {
            return false;
        }
        self.observe_epoch(sender);
        true
    }

    /// `assume_primary`: a replica's gate becomes the primary's at `epoch`, unless it has seen
    /// a newer one.
    pub fn assume_primary(&mut self, epoch: u64) -> bool {
        let seen = self.epoch.max(self.observed);
        if self.primary || epoch < seen {
            return false;
        }
        *self = Gate { epoch, primary: true, fenced: false, observed: self.observed.max(epoch) };
        true
    }
}
