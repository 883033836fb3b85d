//! PostgreSQL timelines as epochs: timeline `t` is epoch `t`, and a timeline's history file is
//! its epoch history (the WAL prefix rule P6-S2 is PostgreSQL's timeline ancestry).

use aerodb_core::{Epoch, EpochHistory, EpochStart, HistoryError, Lsn, WalPosition};
use postgres::types::PgLsn;

/// Why a timeline or its history file was refused. Unknown input denies: nothing is guessed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimelineError {
    /// Timeline 0 does not exist; PostgreSQL's first timeline is 1.
    #[error("timeline 0 does not exist (PostgreSQL's first timeline is 1)")]
    Zero,
    /// A timeline above 1 always has a history file; it was not found.
    #[error("timeline {0} has no history file {name}", name = history_file_name(*.0))]
    HistoryMissing(u32),
    /// A line that is not `parent<TAB>switchpoint<TAB>reason`.
    #[error("history file of timeline {timeline}, line {line}: {problem}: {text:?}")]
    BadLine {
        /// The timeline whose history it is.
        timeline: u32,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: &'static str,
        /// The line as read.
        text: String,
    },
    /// The history names a parent at or above the timeline it is the history of.
    #[error("history file of timeline {timeline} names parent timeline {parent}, not below it")]
    ParentNotBelow {
        /// The timeline whose history it is.
        timeline: u32,
        /// The parent named.
        parent: u32,
    },
    /// The switch points do not make a valid epoch history.
    #[error("history file of timeline {timeline}: {error}")]
    Invalid {
        /// The timeline whose history it is.
        timeline: u32,
        /// Why the epochs were refused.
        error: HistoryError,
    },
}

/// The file in `pg_wal/` holding timeline `timeline`'s history, e.g. `00000002.history`.
pub fn history_file_name(timeline: u32) -> String {
    format!("{timeline:08X}.history")
}

/// The epoch of PostgreSQL timeline `timeline`.
pub fn epoch_of(timeline: u32) -> Result<Epoch, TimelineError> {
    if timeline == 0 { Err(TimelineError::Zero) } else { Ok(Epoch::new(u64::from(timeline))) }
}

/// A PostgreSQL LSN as this library's [`Lsn`]: the same byte position in the WAL.
pub fn lsn(position: PgLsn) -> Lsn {
    Lsn::new(u64::from(position))
}

/// The epoch history of timeline `timeline`, from its history file's text (`None`: no file,
/// which only timeline 1 may lack).
///
/// Each line `parent<TAB>X/Y<TAB>reason` says timeline `parent` ended at WAL position `X/Y`,
/// where the next timeline began: exactly an [`EpochStart`] of the next epoch. Lines that are
/// blank or start with `#` are comments, as PostgreSQL reads them; anything else malformed is
/// refused, and LSNs must be in PostgreSQL's own `%X/%X` form.
pub fn history(timeline: u32, text: Option<&str>) -> Result<EpochHistory, TimelineError> {
    let epoch = epoch_of(timeline)?;
    let Some(text) = text else {
        return if timeline == 1 {
            Ok(EpochHistory::initial(epoch))
        } else {
            Err(TimelineError::HistoryMissing(timeline))
        };
    };
    let mut entries = Vec::new();
    let mut start = Lsn::ZERO;
    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let bad =
            |problem| TimelineError::BadLine { timeline, line: index + 1, problem, text: raw.to_owned() };
        let mut fields = trimmed.split('\t');
        let parent: u32 = fields
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| bad("parent timeline is not a number"))?;
        let switch = fields.next().ok_or_else(|| bad("no switch point"))?;
        let switch = switch
            .parse::<PgLsn>()
            .ok()
            .filter(|parsed| parsed.to_string() == switch)
            .ok_or_else(|| bad("switch point is not an LSN X/Y"))?;
        if parent >= timeline {
            return Err(TimelineError::ParentNotBelow { timeline, parent });
        }
        entries.push(EpochStart { epoch: epoch_of(parent)?, start });
        start = lsn(switch);
    }
    entries.push(EpochStart { epoch, start });
    EpochHistory::new(entries).map_err(|error| TimelineError::Invalid { timeline, error })
}

/// The position of WAL end `end` on `history`: in the epoch that owns it, the oldest one when
/// `end` is exactly a switch point (the WAL up to there is the same on both timelines).
pub fn position(history: &EpochHistory, end: Lsn) -> WalPosition {
    let entries = history.entries();
    let owner = entries.iter().rev().find(|e| e.start < end).unwrap_or(&entries[0]);
    WalPosition::new(owner.epoch, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lsn_of(text: &str) -> Lsn {
        lsn(text.parse().unwrap())
    }

    /// What PostgreSQL 15 wrote at a promotion from timeline 1 (`00000002.history`).
    const SECOND: &str = "1\t0/3000148\tno recovery target specified\n";

    #[test]
    fn timeline_one_needs_no_file() {
        assert_eq!(history(1, None), Ok(EpochHistory::initial(Epoch::new(1))));
        assert_eq!(history(2, None), Err(TimelineError::HistoryMissing(2)));
        assert_eq!(history(0, None), Err(TimelineError::Zero));
    }

    #[test]
    fn a_history_file_is_an_epoch_history() {
        let second = history(2, Some(SECOND)).unwrap();
        let expected =
            EpochHistory::initial(Epoch::new(1)).extended(Epoch::new(2), lsn_of("0/3000148")).unwrap();
        assert_eq!(second, expected);

        let fourth = "1\t0/3000148\tno recovery target specified\n\n# a comment\n\
                      2\t0/5000060\tno recovery target specified\n3\t1/A0\tbefore 2026-11-23\n";
        let entries: Vec<(u64, u64)> = history(4, Some(fourth))
            .unwrap()
            .entries()
            .iter()
            .map(|e| (e.epoch.get(), e.start.get()))
            .collect();
        assert_eq!(entries, [(1, 0), (2, 0x3000148), (3, 0x5000060), (4, (1 << 32) | 0xA0)]);
    }

    /// Malformed or inconsistent files are refused, never repaired (P6-F1).
    #[test]
    fn bad_history_files_are_refused() {
        let refused = |timeline, text: &str| history(timeline, Some(text)).unwrap_err();
        assert!(matches!(refused(2, "x\t0/1\treason\n"), TimelineError::BadLine { line: 1, .. }));
        assert!(matches!(refused(2, "1\n"), TimelineError::BadLine { problem: "no switch point", .. }));
        for lsn in ["0/3g", "3000148", "00/3000148", "0/3000148 ", "100000000/0", "0/3000148\u{0}"] {
            assert!(
                matches!(refused(2, &format!("1\t{lsn}\treason\n")), TimelineError::BadLine { .. }),
                "{lsn:?} accepted"
            );
        }
        assert_eq!(refused(2, "2\t0/10\treason\n"), TimelineError::ParentNotBelow { timeline: 2, parent: 2 });
        assert!(matches!(refused(3, "1\t0/20\tr\n1\t0/30\tr\n"), TimelineError::Invalid { .. }));
        assert!(matches!(refused(3, "1\t0/20\tr\n2\t0/10\tr\n"), TimelineError::Invalid { .. }));
        assert!(matches!(refused(2, "0\t0/20\tr\n"), TimelineError::Zero));
    }

    #[test]
    fn a_position_belongs_to_the_epoch_that_owns_its_wal() {
        let history = history(3, Some("1\t0/100\tr\n2\t0/200\tr\n")).unwrap();
        let at = |end: u64| position(&history, Lsn::new(end)).epoch.get();
        assert_eq!([at(0), at(0x50), at(0x100), at(0x101), at(0x200), at(0x201)], [1, 1, 1, 2, 2, 3]);
    }

    #[test]
    fn history_files_are_named_in_hex() {
        assert_eq!(history_file_name(2), "00000002.history");
        assert_eq!(history_file_name(26), "0000001A.history");
    }
}
