//! WAL positions and the epoch history that says which WAL is authoritative (P6-S2).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A log sequence number: a byte offset into the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Lsn(u64);

/// An authority epoch: raised by exactly one on every successful promotion.
///
/// Valid epochs run from 0 to [`Epoch::MAX`] (62 bits, what a write gate holds); an epoch
/// history refuses any other, and [`Epoch::next`] never leaves the range (P6-A1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Epoch(u64);

impl Lsn {
    /// The start of every WAL.
    pub const ZERO: Lsn = Lsn(0);

    /// The LSN at byte offset `offset`.
    pub const fn new(offset: u64) -> Lsn {
        Lsn(offset)
    }

    /// The byte offset.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl Epoch {
    /// The epoch a bootstrapped primary starts in.
    pub const INITIAL: Epoch = Epoch(1);

    /// Epoch number `n`. Any `u64` makes an `Epoch`; one beyond [`Epoch::MAX`] is refused by
    /// every history, gate and record it reaches, and never computed by [`Epoch::next`].
    pub const fn new(n: u64) -> Epoch {
        Epoch(n)
    }

    /// The epoch number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The largest epoch: 2^62 − 1, so that a write gate's one atomic word holds any epoch
    /// beside its role and fence bits. The one epoch range of the whole crate family.
    pub const MAX: Epoch = Epoch((1 << 62) - 1);

    /// The following epoch, or `None` when it would pass [`Epoch::MAX`] (P6-A1: a promotion
    /// never approves an epoch its new primary's gate cannot take).
    pub fn next(self) -> Option<Epoch> {
        self.0.checked_add(1).map(Epoch).filter(|next| *next <= Epoch::MAX)
    }

    /// Whether this epoch is within `0..=Epoch::MAX`.
    pub const fn in_range(self) -> bool {
        self.0 <= Epoch::MAX.0
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The position of the last WAL record a node holds, tagged with the epoch that wrote it.
///
/// Ordered by epoch first, then LSN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalPosition {
    /// Epoch of the primary that wrote the record.
    pub epoch: Epoch,
    /// Offset of the record.
    pub lsn: Lsn,
}

impl WalPosition {
    /// A position in `epoch` at `lsn`.
    pub const fn new(epoch: Epoch, lsn: Lsn) -> Self {
        WalPosition { epoch, lsn }
    }
}

impl fmt::Display for WalPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.epoch, self.lsn)
    }
}

/// One switch point: `epoch` begins after `start`; its records follow LSN `start`, and the point
/// at `start` itself is named both by `epoch` and by the previous epoch (see [`EpochHistory::place`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpochStart {
    /// The epoch that begins here.
    pub epoch: Epoch,
    /// The last LSN of the previous epoch; [`Lsn::ZERO`] for the first.
    pub start: Lsn,
}

/// Why an epoch history was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// No entries at all.
    #[error("epoch history is empty")]
    Empty,
    /// An epoch beyond [`Epoch::MAX`].
    #[error("epoch {0} is beyond the largest epoch {max}", max = Epoch::MAX)]
    EpochOutOfRange(Epoch),
    /// Epochs must strictly rise.
    #[error("epoch history is out of order: epoch {next} follows epoch {previous}")]
    EpochNotRising {
        /// Epoch of the earlier entry.
        previous: Epoch,
        /// Epoch of the entry that does not rise above it.
        next: Epoch,
    },
    /// Start positions must never go back.
    #[error("epoch history goes backwards: epoch {epoch} starts at LSN {start}, before LSN {previous_start}")]
    StartGoesBack {
        /// The entry that goes back.
        epoch: Epoch,
        /// Its start.
        start: Lsn,
        /// The previous entry's start.
        previous_start: Lsn,
    },
}

/// The ordered switch points of a WAL, like a PostgreSQL timeline history.
///
/// Never empty; epochs strictly rise and starts never go back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<EpochStart>", into = "Vec<EpochStart>")]
pub struct EpochHistory {
    entries: Vec<EpochStart>,
}

/// How a replica's `(history, position)` relates to the authoritative history (P6-S2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Continuation {
    /// The replica's WAL is a prefix of the authoritative WAL: it can continue from it.
    Compatible,
    /// The replica holds WAL the authority does not: the histories split at `at` in `epoch`.
    Diverged {
        /// First epoch whose extent differs.
        epoch: Epoch,
        /// LSN after which the two WALs differ.
        at: Lsn,
    },
    /// The replica knows an epoch newer than any the authority knows.
    Ahead {
        /// The unknown newer epoch.
        epoch: Epoch,
    },
    /// The replica's position is in an epoch older than every epoch the authority retains.
    UnknownEpoch {
        /// The epoch named by the position.
        epoch: Epoch,
    },
    /// The replica's position is not on its own history (an epoch it lacks, before its epoch's
    /// start there, or past the next switch point): the inputs contradict themselves (P6-F1).
    OffOwnHistory(OffHistory),
}

impl fmt::Display for Continuation {
    /// The prefix rule's answer in words, positions as `epoch/lsn`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Continuation::Compatible => f.write_str("compatible"),
            Continuation::Diverged { epoch, at } => write!(f, "diverged in epoch {epoch} after LSN {at}"),
            Continuation::Ahead { epoch } => {
                write!(f, "ahead: knows epoch {epoch}, which the authority does not")
            }
            Continuation::UnknownEpoch { epoch } => {
                write!(f, "position in epoch {epoch}, older than the authority retains")
            }
            Continuation::OffOwnHistory(off) => {
                write!(f, "contradictory: {off} on the replica's own history")
            }
        }
    }
}

impl EpochHistory {
    /// A validated history.
    pub fn new(entries: Vec<EpochStart>) -> Result<Self, HistoryError> {
        let Some(first) = entries.first() else {
            return Err(HistoryError::Empty);
        };
        if let Some(out) = entries.iter().find(|e| !e.epoch.in_range()) {
            return Err(HistoryError::EpochOutOfRange(out.epoch));
        }
        let mut previous = *first;
        for entry in &entries[1..] {
            if entry.epoch <= previous.epoch {
                return Err(HistoryError::EpochNotRising { previous: previous.epoch, next: entry.epoch });
            }
            if entry.start < previous.start {
                return Err(HistoryError::StartGoesBack {
                    epoch: entry.epoch,
                    start: entry.start,
                    previous_start: previous.start,
                });
            }
            previous = *entry;
        }
        Ok(EpochHistory { entries })
    }

    /// A history with one epoch starting at [`Lsn::ZERO`].
    pub fn initial(epoch: Epoch) -> Self {
        EpochHistory { entries: vec![EpochStart { epoch, start: Lsn::ZERO }] }
    }

    /// The switch points, oldest first.
    pub fn entries(&self) -> &[EpochStart] {
        &self.entries
    }

    /// The newest switch point.
    pub fn latest(&self) -> EpochStart {
        // Never empty by construction.
        self.entries[self.entries.len() - 1]
    }

    /// This history with `epoch` beginning after `start`, if that keeps it valid.
    pub fn extended(&self, epoch: Epoch, start: Lsn) -> Result<Self, HistoryError> {
        let mut entries = self.entries.clone();
        entries.push(EpochStart { epoch, start });
        EpochHistory::new(entries)
    }

    /// Whether a replica with history `self` at `position` can continue the authoritative
    /// `authority` history without losing or inventing WAL (P6-S2).
    ///
    /// Compatible means: the replica's history is an exact prefix of the authority's, and if the
    /// authority moved past the replica's epoch, the replica stopped at or before that switch point.
    pub fn continuation_of(&self, position: WalPosition, authority: &EpochHistory) -> Continuation {
        if let Err(off) = self.place(position) {
            return Continuation::OffOwnHistory(off);
        }
        // The authority may retain only its newest epochs; compare from its oldest one on.
        let oldest_retained = authority.entries[0].epoch;
        if position.epoch < oldest_retained {
            return Continuation::UnknownEpoch { epoch: position.epoch };
        }
        let first =
            self.entries.iter().position(|e| e.epoch >= oldest_retained).unwrap_or(self.entries.len());
        let newest_known = authority.latest().epoch;
        for (index, mine) in self.entries[first..].iter().enumerate() {
            if mine.epoch > newest_known {
                return Continuation::Ahead { epoch: mine.epoch };
            }
            match authority.entries.get(index) {
                Some(theirs) if theirs == mine => {}
                Some(theirs) => {
                    return Continuation::Diverged {
                        epoch: theirs.epoch.min(mine.epoch),
                        at: theirs.start.min(mine.start),
                    };
                }
                // Longer than the authority's but not newer: an epoch the authority never had.
                None => return Continuation::Diverged { epoch: mine.epoch, at: mine.start },
            }
        }
        // The histories agree as far as the replica's goes: its position must also lie on the
        // authority's history, i.e. not past where the authority moved on from its epoch.
        match authority.place(position) {
            Ok(()) => Continuation::Compatible,
            Err(OffHistory::PastEnd { end, .. }) => Continuation::Diverged { epoch: position.epoch, at: end },
            // Equal entries from the oldest retained epoch on: the start and epoch agree.
            Err(OffHistory::EpochMissing { epoch }) => Continuation::UnknownEpoch { epoch },
            Err(off @ OffHistory::BeforeStart { .. }) => Continuation::OffOwnHistory(off),
        }
    }

    /// Whether `position` lies on this history — the one definition of which positions an epoch
    /// owns (P6-S1, P6-S2): epoch `E` beginning after `s`, with the next epoch beginning after
    /// `n`, owns `E/l` for `s <= l <= n` (no upper bound for the newest epoch). A switch point has
    /// two names for one point: on `[1@0, 2@100]`, `1/100` and `2/100` are both the WAL through
    /// LSN 100. `2/50` is on no branch that history describes: written elsewhere, or made up.
    pub fn place(&self, position: WalPosition) -> Result<(), OffHistory> {
        let Some(index) = self.entries.iter().position(|e| e.epoch == position.epoch) else {
            return Err(OffHistory::EpochMissing { epoch: position.epoch });
        };
        let start = self.entries[index].start;
        if position.lsn < start {
            return Err(OffHistory::BeforeStart { position, start });
        }
        match self.entries.get(index + 1) {
            Some(next) if position.lsn > next.start => Err(OffHistory::PastEnd { position, end: next.start }),
            _ => Ok(()),
        }
    }
}

impl EpochHistory {
    /// Every name `position`'s point has on this history, oldest epoch first: one, or at a
    /// switch point each epoch whose range holds it (`1/100` and `2/100` on `[1@0, 2@100]`);
    /// none if it is not on this history ([`EpochHistory::place`]).
    pub fn names(&self, position: WalPosition) -> Vec<WalPosition> {
        if self.place(position).is_err() {
            return Vec::new();
        }
        self.entries
            .iter()
            .map(|e| WalPosition::new(e.epoch, position.lsn))
            .filter(|name| self.place(*name).is_ok())
            .collect()
    }
}

/// Why a position does not lie on a history ([`EpochHistory::place`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OffHistory {
    /// The history has no such epoch.
    EpochMissing {
        /// The epoch named.
        epoch: Epoch,
    },
    /// Before the epoch begins on this history: such a position belongs to another branch.
    BeforeStart {
        /// The position.
        position: WalPosition,
        /// Where its epoch begins here.
        start: Lsn,
    },
    /// Past the switch point where the next epoch takes over on this history.
    PastEnd {
        /// The position.
        position: WalPosition,
        /// Where its epoch ends here.
        end: Lsn,
    },
}

impl fmt::Display for OffHistory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OffHistory::EpochMissing { epoch } => write!(f, "epoch {epoch} is not on the history"),
            OffHistory::BeforeStart { position, start } => {
                write!(f, "{position} is before epoch {} begins at LSN {start}", position.epoch)
            }
            OffHistory::PastEnd { position, end } => {
                write!(f, "{position} is past the end of epoch {} at LSN {end}", position.epoch)
            }
        }
    }
}

/// Whether a node's WAL contains a given position (P6-S1), from [`EpochHistory::holds`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Holding {
    /// The position lies on the node's own history, at or before where its WAL ends.
    Holds,
    /// The node's WAL in the position's epoch ends at `end`, before the position.
    EndsBefore {
        /// Where the node's WAL ends in that epoch: its WAL end, or the epoch's switch point.
        end: WalPosition,
    },
    /// The node's history does not include the position's epoch, so it cannot hold it.
    EpochMissing {
        /// The epoch the node never had.
        epoch: Epoch,
    },
    /// The position's epoch begins after it on the node's history: it was written on another
    /// branch of that epoch, so the node cannot hold it.
    BeforeEpochStart {
        /// Where that epoch begins on the node's history.
        start: WalPosition,
    },
    /// The node's own WAL end is not on its own history: contradictory input places nothing.
    EndOffHistory(OffHistory),
}

impl EpochHistory {
    /// Whether a node with this history, whose WAL ends at `wal_end`, holds the record at
    /// `target`: both must lie on this history ([`EpochHistory::place`]), and `target` at or
    /// before `wal_end` — on one placed history the LSN orders every point. Never by epoch order
    /// alone: `2/120` does not hold `1/150` if epoch 1 ended at 100, nor `2/50` if epoch 2 began
    /// at 100.
    pub fn holds(&self, wal_end: WalPosition, target: WalPosition) -> Holding {
        if let Err(off) = self.place(wal_end) {
            return Holding::EndOffHistory(off);
        }
        match self.place(target) {
            Err(OffHistory::EpochMissing { epoch }) => Holding::EpochMissing { epoch },
            Err(OffHistory::BeforeStart { start, .. }) => {
                Holding::BeforeEpochStart { start: WalPosition::new(target.epoch, start) }
            }
            // Past its epoch's end here: no amount of catching up on this history reaches it.
            Err(OffHistory::PastEnd { end, .. }) => {
                Holding::EndsBefore { end: WalPosition::new(target.epoch, end) }
            }
            _ if target.lsn <= wal_end.lsn => Holding::Holds,
            _ => Holding::EndsBefore { end: wal_end },
        }
    }
}

impl TryFrom<Vec<EpochStart>> for EpochHistory {
    type Error = HistoryError;

    fn try_from(entries: Vec<EpochStart>) -> Result<Self, Self::Error> {
        EpochHistory::new(entries)
    }
}

impl From<EpochHistory> for Vec<EpochStart> {
    fn from(history: EpochHistory) -> Self {
        history.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(points: &[(u64, u64)]) -> EpochHistory {
        EpochHistory::new(
            points.iter().map(|&(e, s)| EpochStart { epoch: Epoch(e), start: Lsn(s) }).collect(),
        )
        .unwrap()
    }

    fn pos(e: u64, l: u64) -> WalPosition {
        WalPosition::new(Epoch(e), Lsn(l))
    }

    #[test]
    fn positions_order_by_epoch_then_lsn() {
        assert!(pos(1, 900) < pos(2, 0));
        assert!(pos(2, 5) < pos(2, 6));
        assert_eq!(pos(3, 4).to_string(), "3/4");
    }

    #[test]
    fn invalid_histories_are_refused() {
        assert_eq!(EpochHistory::new(vec![]), Err(HistoryError::Empty));
        let e = |e, s| EpochStart { epoch: Epoch(e), start: Lsn(s) };
        assert!(matches!(
            EpochHistory::new(vec![e(2, 0), e(2, 5)]),
            Err(HistoryError::EpochNotRising { .. })
        ));
        assert!(matches!(EpochHistory::new(vec![e(1, 9), e(2, 5)]), Err(HistoryError::StartGoesBack { .. })));
    }

    #[test]
    fn same_history_at_the_tip_is_compatible() {
        let authority = history(&[(1, 0), (2, 100)]);
        assert_eq!(authority.continuation_of(pos(2, 150), &authority), Continuation::Compatible);
    }

    #[test]
    fn replica_behind_a_switch_point_is_compatible() {
        let authority = history(&[(1, 0), (2, 100)]);
        let replica = history(&[(1, 0)]);
        assert_eq!(replica.continuation_of(pos(1, 100), &authority), Continuation::Compatible);
        assert_eq!(replica.continuation_of(pos(1, 40), &authority), Continuation::Compatible);
    }

    #[test]
    fn replica_past_a_switch_point_has_diverged_there() {
        let authority = history(&[(1, 0), (2, 100)]);
        let replica = history(&[(1, 0)]);
        assert_eq!(
            replica.continuation_of(pos(1, 101), &authority),
            Continuation::Diverged { epoch: Epoch(1), at: Lsn(100) }
        );
    }

    #[test]
    fn different_switch_point_is_divergence() {
        let authority = history(&[(1, 0), (2, 100)]);
        let replica = history(&[(1, 0), (2, 120)]);
        assert_eq!(
            replica.continuation_of(pos(2, 130), &authority),
            Continuation::Diverged { epoch: Epoch(2), at: Lsn(100) }
        );
    }

    #[test]
    fn skipped_epoch_is_divergence() {
        let authority = history(&[(1, 0), (2, 100), (3, 200)]);
        let replica = history(&[(1, 0), (3, 200)]);
        assert_eq!(
            replica.continuation_of(pos(3, 210), &authority),
            Continuation::Diverged { epoch: Epoch(2), at: Lsn(100) }
        );
    }

    #[test]
    fn newer_epoch_than_the_authority_is_ahead() {
        let authority = history(&[(1, 0)]);
        let replica = history(&[(1, 0), (2, 50)]);
        assert_eq!(replica.continuation_of(pos(2, 60), &authority), Continuation::Ahead { epoch: Epoch(2) });
    }

    #[test]
    fn position_outside_own_history_is_unknown() {
        let authority = history(&[(1, 0)]);
        assert_eq!(
            authority.continuation_of(pos(7, 1), &authority),
            Continuation::OffOwnHistory(OffHistory::EpochMissing { epoch: Epoch(7) })
        );
    }

    #[test]
    fn a_truncated_authority_history_compares_from_its_oldest_retained_epoch() {
        let authority = history(&[(3, 200), (4, 300)]);
        let replica = history(&[(1, 0), (2, 100), (3, 200)]);
        assert_eq!(replica.continuation_of(pos(3, 300), &authority), Continuation::Compatible);
        let diverged = history(&[(1, 0), (3, 250)]);
        assert_eq!(
            diverged.continuation_of(pos(3, 260), &authority),
            Continuation::Diverged { epoch: Epoch(3), at: Lsn(200) }
        );
        let too_old = history(&[(1, 0), (2, 100)]);
        assert_eq!(
            too_old.continuation_of(pos(2, 150), &authority),
            Continuation::UnknownEpoch { epoch: Epoch(2) }
        );
    }

    #[test]
    fn epochs_beyond_the_range_are_refused_and_never_reached() {
        assert_eq!(Epoch::MAX.next(), None);
        assert_eq!(Epoch(Epoch::MAX.0 - 1).next(), Some(Epoch::MAX));
        let e = |e, s| EpochStart { epoch: Epoch(e), start: Lsn(s) };
        let beyond = Epoch(Epoch::MAX.0 + 1);
        assert_eq!(
            EpochHistory::new(vec![e(1, 0), e(beyond.0, 5)]),
            Err(HistoryError::EpochOutOfRange(beyond))
        );
        assert!(EpochHistory::new(vec![e(1, 0), e(Epoch::MAX.0, 5)]).is_ok());
    }

    /// P6-S1: a position is held only on the node's own history, never by epoch order alone.
    #[test]
    fn a_position_is_held_only_on_the_nodes_own_history() {
        let h = history(&[(1, 0), (2, 100)]);
        // The case: epoch 1 ended at 100 here, so 1/150 is not held at 2/120.
        assert_eq!(h.holds(pos(2, 120), pos(1, 150)), Holding::EndsBefore { end: pos(1, 100) });
        assert_eq!(h.holds(pos(2, 120), pos(1, 100)), Holding::Holds);
        assert_eq!(h.holds(pos(2, 120), pos(2, 120)), Holding::Holds);
        assert_eq!(h.holds(pos(2, 120), pos(2, 121)), Holding::EndsBefore { end: pos(2, 120) });
        assert_eq!(h.holds(pos(2, 120), pos(3, 1)), Holding::EpochMissing { epoch: Epoch(3) });
        assert_eq!(
            history(&[(1, 0), (3, 100)]).holds(pos(3, 120), pos(2, 50)),
            Holding::EpochMissing { epoch: Epoch(2) }
        );
        // A WAL end in an epoch the history lacks places nothing.
        assert_eq!(
            history(&[(1, 0)]).holds(pos(2, 10), pos(1, 5)),
            Holding::EndOffHistory(OffHistory::EpochMissing { epoch: Epoch(2) })
        );
    }

    /// P6-S1: a position before its epoch's start is on another branch of that epoch: not held.
    #[test]
    fn a_position_before_its_epochs_start_is_not_held() {
        let h = history(&[(1, 0), (2, 100)]);
        assert_eq!(h.holds(pos(2, 120), pos(2, 50)), Holding::BeforeEpochStart { start: pos(2, 100) });
        assert_eq!(h.holds(pos(2, 120), pos(2, 99)), Holding::BeforeEpochStart { start: pos(2, 100) });
        // The switch point has both names, and both are held.
        assert_eq!(h.holds(pos(2, 120), pos(2, 100)), Holding::Holds);
        assert_eq!(h.holds(pos(1, 100), pos(2, 100)), Holding::Holds);
        assert_eq!(h.holds(pos(2, 100), pos(1, 100)), Holding::Holds);
        assert_eq!(h.holds(pos(1, 99), pos(2, 100)), Holding::EndsBefore { end: pos(1, 99) });
        // The node's own end off its history places nothing, on either side of its epoch.
        assert_eq!(
            h.holds(pos(2, 50), pos(1, 10)),
            Holding::EndOffHistory(OffHistory::BeforeStart { position: pos(2, 50), start: Lsn(100) })
        );
        assert_eq!(
            h.holds(pos(1, 120), pos(1, 10)),
            Holding::EndOffHistory(OffHistory::PastEnd { position: pos(1, 120), end: Lsn(100) })
        );
        // Past the epoch's end, wherever the node's WAL ends: the epoch's end is named.
        assert_eq!(h.holds(pos(1, 80), pos(1, 150)), Holding::EndsBefore { end: pos(1, 100) });
        assert_eq!(h.holds(pos(2, 100), pos(1, 150)), Holding::EndsBefore { end: pos(1, 100) });
    }

    /// Which positions an epoch owns: both ends of its range, nothing outside.
    #[test]
    fn an_epoch_owns_its_range_and_both_switch_points() {
        let h = history(&[(1, 0), (2, 100), (3, 100), (4, 200)]);
        for (e, l) in [(1, 0), (1, 100), (2, 100), (3, 100), (3, 150), (3, 200), (4, 200), (4, u64::MAX)] {
            assert_eq!(h.place(pos(e, l)), Ok(()), "{e}/{l}");
        }
        assert_eq!(h.place(pos(1, 101)), Err(OffHistory::PastEnd { position: pos(1, 101), end: Lsn(100) }));
        assert_eq!(h.place(pos(2, 101)), Err(OffHistory::PastEnd { position: pos(2, 101), end: Lsn(100) }));
        assert_eq!(
            h.place(pos(2, 99)),
            Err(OffHistory::BeforeStart { position: pos(2, 99), start: Lsn(100) })
        );
        assert_eq!(
            h.place(pos(4, 199)),
            Err(OffHistory::BeforeStart { position: pos(4, 199), start: Lsn(200) })
        );
        assert_eq!(h.place(pos(5, 300)), Err(OffHistory::EpochMissing { epoch: Epoch(5) }));
        assert!(
            OffHistory::BeforeStart { position: pos(2, 50), start: Lsn(100) }.to_string().contains("2/50")
        );
    }

    /// A point's names: both epochs at a switch point (all three where starts repeat), one
    /// elsewhere, none off the history.
    #[test]
    fn a_switch_point_has_every_name_its_epochs_give_it() {
        let h = history(&[(1, 0), (2, 100), (3, 100), (4, 200)]);
        assert_eq!(h.names(pos(2, 100)), vec![pos(1, 100), pos(2, 100), pos(3, 100)]);
        assert_eq!(h.names(pos(3, 150)), vec![pos(3, 150)]);
        assert_eq!(h.names(pos(4, 200)), vec![pos(3, 200), pos(4, 200)]);
        assert_eq!(h.names(pos(1, 0)), vec![pos(1, 0)]);
        assert_eq!(h.names(pos(2, 99)), Vec::<WalPosition>::new());
        assert_eq!(h.names(pos(5, 300)), Vec::<WalPosition>::new());
    }

    /// P6-S2: a replica's position off its own history is contradictory, not compatible.
    #[test]
    fn a_position_off_its_own_history_is_contradictory() {
        let authority = history(&[(1, 0), (2, 100)]);
        assert_eq!(
            authority.continuation_of(pos(2, 50), &authority),
            Continuation::OffOwnHistory(OffHistory::BeforeStart { position: pos(2, 50), start: Lsn(100) })
        );
        assert_eq!(
            authority.continuation_of(pos(1, 101), &authority),
            Continuation::OffOwnHistory(OffHistory::PastEnd { position: pos(1, 101), end: Lsn(100) })
        );
        // The switch point's older name is compatible too.
        assert_eq!(authority.continuation_of(pos(1, 100), &authority), Continuation::Compatible);
        assert!(
            Continuation::OffOwnHistory(OffHistory::EpochMissing { epoch: Epoch(3) })
                .to_string()
                .contains("contradictory")
        );
    }

    #[test]
    fn conversion_from_entries_validates() {
        let e = |e, s| EpochStart { epoch: Epoch(e), start: Lsn(s) };
        assert!(EpochHistory::try_from(vec![e(2, 0), e(1, 0)]).is_err());
        assert_eq!(Vec::from(history(&[(1, 0), (2, 7)])), vec![e(1, 0), e(2, 7)]);
    }

    /// The one epoch range is 62 bits, what a write gate holds beside its role and fence bits.
    #[test]
    fn the_epoch_range_is_62_bits() {
        assert_eq!(Epoch::MAX.get(), (1u64 << 62) - 1);
        assert!(Epoch::MAX.in_range() && !Epoch::new(1 << 62).in_range());
    }

    /// A WAL end in an epoch the node's history lacks places no earlier position either.
    #[test]
    fn a_wal_end_outside_the_history_places_nothing() {
        let h = history(&[(1, 0), (3, 100)]);
        assert_eq!(
            h.holds(pos(2, 50), pos(1, 40)),
            Holding::EndOffHistory(OffHistory::EpochMissing { epoch: Epoch(2) })
        );
    }

    /// The prefix rule's answers render as operators read them, with no Rust debug syntax.
    #[test]
    fn continuations_render_as_text() {
        assert_eq!(Continuation::Compatible.to_string(), "compatible");
        assert_eq!(
            Continuation::Diverged { epoch: Epoch(2), at: Lsn(100) }.to_string(),
            "diverged in epoch 2 after LSN 100"
        );
        assert!(Continuation::Ahead { epoch: Epoch(3) }.to_string().contains("epoch 3"));
        assert!(Continuation::UnknownEpoch { epoch: Epoch(7) }.to_string().contains("epoch 7"));
    }
}
