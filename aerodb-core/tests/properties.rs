//! Property tests for the core values. Seeded: replay a failure with `AERODB_QC_SEED=<seed>`.

use aerodb_core::testing::check;
use aerodb_core::{Continuation, Epoch, EpochHistory, EpochStart, Lsn, WalPosition};
use quickcheck::{Arbitrary, Gen};

/// An authoritative history of 1..=8 epochs with rising starts.
#[derive(Debug, Clone)]
struct History(EpochHistory);

impl Arbitrary for History {
    fn arbitrary(g: &mut Gen) -> Self {
        let len = 1 + usize::arbitrary(g) % 8;
        let mut epoch = 1 + u64::arbitrary(g) % 4;
        let mut start = 0u64;
        let mut entries = Vec::new();
        for _ in 0..len {
            entries.push(EpochStart { epoch: Epoch::new(epoch), start: Lsn::new(start) });
            epoch += 1 + u64::arbitrary(g) % 3;
            start += u64::arbitrary(g) % 1000;
        }
        History(EpochHistory::new(entries).unwrap())
    }
}

fn pos(e: u64, l: u64) -> WalPosition {
    WalPosition::new(Epoch::new(e), Lsn::new(l))
}

#[test]
fn wal_positions_are_totally_ordered() {
    fn prop(a: (u64, u64), b: (u64, u64), c: (u64, u64)) -> bool {
        let (a, b, c) = (pos(a.0, a.1), pos(b.0, b.1), pos(c.0, c.1));
        let antisymmetric = !(a < b && b < a);
        let transitive = !(a <= b && b <= c) || a <= c;
        let total = a <= b || b <= a;
        let epoch_first = a.epoch == b.epoch || (a < b) == (a.epoch < b.epoch);
        antisymmetric && transitive && total && epoch_first
    }
    check("wal_positions_are_totally_ordered", 500, prop as fn((u64, u64), (u64, u64), (u64, u64)) -> bool);
}

/// A strict or full prefix of the authority, stopped anywhere up to its next switch point.
#[test]
fn a_prefix_is_always_compatible() {
    fn prop(h: History, cut: usize, offset: u64) -> bool {
        let entries = h.0.entries();
        let keep = 1 + cut % entries.len();
        let replica = EpochHistory::new(entries[..keep].to_vec()).unwrap();
        let last = replica.latest();
        // Up to the next switch point, or anywhere ahead when this is the authority's newest epoch.
        let room = entries.get(keep).map_or(1_000_000, |next| next.start.get() - last.start.get());
        let lsn = last.start.get() + offset % (room + 1);
        replica.continuation_of(pos(last.epoch.get(), lsn), &h.0) == Continuation::Compatible
    }
    check("a_prefix_is_always_compatible", 500, prop as fn(History, usize, u64) -> bool);
}

/// Changing any switch point of the replica's copy makes it incompatible.
#[test]
fn a_diverged_history_is_never_compatible() {
    fn prop(h: History, which: usize, shift: u64) -> bool {
        let mut entries = h.0.entries().to_vec();
        let index = which % entries.len();
        let shift = 1 + shift % 50;
        for entry in &mut entries[index..] {
            entry.start = Lsn::new(entry.start.get() + shift);
        }
        let replica = EpochHistory::new(entries).unwrap();
        let tip = replica.latest();
        let verdict = replica.continuation_of(pos(tip.epoch.get(), tip.start.get()), &h.0);
        matches!(verdict, Continuation::Diverged { .. })
    }
    check("a_diverged_history_is_never_compatible", 500, prop as fn(History, usize, u64) -> bool);
}

/// Writing past the authority's switch point out of an old epoch is divergence.
#[test]
fn running_past_a_switch_point_is_never_compatible() {
    fn prop(h: History, cut: usize, past: u64) -> bool {
        let entries = h.0.entries();
        if entries.len() < 2 {
            return true;
        }
        let keep = 1 + cut % (entries.len() - 1);
        let replica = EpochHistory::new(entries[..keep].to_vec()).unwrap();
        let lsn = entries[keep].start.get() + 1 + past % 100;
        replica.continuation_of(pos(replica.latest().epoch.get(), lsn), &h.0) != Continuation::Compatible
    }
    check("running_past_a_switch_point_is_never_compatible", 500, prop as fn(History, usize, u64) -> bool);
}
