//! One home for the small renderings that text, events and errors share, and the
//! deterministic text of a check's compared values.

use std::fmt;

use aerodb_core::{Epoch, EpochHistory};

use crate::checks::Compared;
use crate::invariant::Invariant;

/// A value, or `unknown`.
pub(crate) struct OrUnknown<T>(pub Option<T>);

impl<T: fmt::Display> fmt::Display for OrUnknown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(value) => value.fmt(f),
            None => f.write_str("unknown"),
        }
    }
}

/// `epoch N`, or `no record`.
pub(crate) struct EpochOrNone(pub Option<Epoch>);

impl fmt::Display for EpochOrNone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(epoch) => write!(f, "epoch {epoch}"),
            None => f.write_str("no record"),
        }
    }
}

/// Invariant ids joined by `separator`, or `none`.
pub(crate) struct Ids<'a>(pub &'a [Invariant], pub &'static str);

impl fmt::Display for Ids<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, id) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(self.1)?;
            }
            f.write_str(id.id())?;
        }
        Ok(())
    }
}

/// An epoch history as `[1@0, 2@100]`.
pub(crate) struct HistoryText<'a>(pub &'a EpochHistory);

impl fmt::Display for HistoryText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, e) in self.0.entries().iter().enumerate() {
            write!(f, "{}{}@{}", if i == 0 { "" } else { ", " }, e.epoch, e.start)?;
        }
        f.write_str("]")
    }
}

impl fmt::Display for Compared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compared::CandidateMissing => f.write_str("candidate: not described by the inputs"),
            Compared::Role { candidate, role } => {
                write!(f, "candidate {candidate} role {role:?}; required ReplicaActive")
            }
            Compared::NoAuthorityRecord => f.write_str("authority record: none"),
            Compared::Authority { epoch, primary, claimants, candidate_epoch } => {
                write!(
                    f,
                    "authority epoch {epoch} primary {primary}; other nodes reporting PrimaryActive: ["
                )?;
                for (i, c) in claimants.iter().enumerate() {
                    write!(f, "{}{c}", if i == 0 { "" } else { ", " })?;
                }
                match candidate_epoch {
                    Some(e) => write!(f, "]; candidate's newest epoch: {e}"),
                    None => f.write_str("]; candidate's newest epoch: unknown"),
                }
            }
            Compared::OldPrimary { primary, reported, seen_active, force } => {
                match primary {
                    Some(p) => write!(f, "old primary {p}")?,
                    None => f.write_str("old primary none")?,
                }
                let observed = if *seen_active { "PrimaryActive" } else { "not active" };
                write!(f, ": reported {reported:?}, observed {observed}; force {force}")
            }
            Compared::Acknowledged { acknowledged } => {
                write!(f, "acknowledged position: {}", OrUnknown(*acknowledged))
            }
            Compared::CaughtUp { candidate, acknowledged } => {
                write!(
                    f,
                    "acknowledged {} on the candidate's own history, whose WAL ends at {candidate}",
                    OrUnknown(*acknowledged)
                )
            }
            Compared::NoAuthorityHistory => f.write_str("authority history: none"),
            Compared::HistoryUnknown => f.write_str("candidate history: unknown"),
            Compared::Prefix { candidate, position, authority, continuation } => write!(
                f,
                "candidate history {} at {position} against authority history {}: {continuation:?}",
                HistoryText(candidate),
                HistoryText(authority)
            ),
            Compared::MvccUnknown => f.write_str("candidate MVCC boundary: unknown"),
            Compared::Boundary { visible_commit, applying, wal_end } => {
                write!(f, "visible commit LSN {visible_commit}, applying ")?;
                match applying {
                    Some(c) => write!(f, "commit LSN {} ({}/{} records)", c.commit_lsn, c.applied, c.total)?,
                    None => f.write_str("nothing")?,
                }
                write!(f, ", WAL end LSN {wal_end}")
            }
        }
    }
}
