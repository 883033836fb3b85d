//! What a check compared: [`Compared`], kept as values so the validator renders nothing, and
//! its deterministic text (P6-D1). The checks that fill it are `checks.rs`.

use std::fmt;

use aerodb_core::{
    Continuation, Epoch, EpochHistory, Lsn, NodeId, PartialCommit, ReplicationState, WalPosition,
};
use serde::{Deserialize, Serialize};

use crate::display::{HistoryText, Joined, OrUnknown};
use crate::evidence::{AcknowledgedSource, Derivation, Stopped};
use crate::inputs::OldPrimary;

/// The values a check compared, kept as values so the validator renders nothing; `Display`
/// gives the deterministic text explanations show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Compared {
    /// The inputs hold no view of the candidate.
    CandidateMissing,
    /// Check 1: the candidate's role against `ReplicaActive`.
    Role {
        /// The candidate.
        candidate: NodeId,
        /// Its role.
        role: ReplicationState,
    },
    /// Check 2 without an authority record.
    NoAuthorityRecord,
    /// Check 2: the authority, other claimants, the candidate's newest epoch.
    Authority {
        /// Current epoch.
        epoch: Epoch,
        /// Recorded primary.
        primary: NodeId,
        /// Node ids the inputs describe more than once, sorted.
        duplicates: Vec<NodeId>,
        /// Other nodes reporting `PrimaryActive`, sorted.
        claimants: Vec<NodeId>,
        /// The candidate's newest known epoch.
        candidate_epoch: Option<Epoch>,
        /// Other nodes that know an epoch newer than the authority's, sorted.
        ahead: Vec<NodeId>,
    },
    /// Check 3: what is known of the old primary, and the force flag.
    OldPrimary {
        /// The recorded primary.
        primary: Option<NodeId>,
        /// What the caller reported.
        reported: OldPrimary,
        /// Whether the inputs show it `PrimaryActive`.
        seen_active: bool,
        /// Its agent's durable statement that it stopped, if the current report has one.
        stated: Option<Stopped>,
        /// The request's force flag.
        force: bool,
    },
    /// Check 4: the acknowledged bound, every source of one, and which was chosen.
    Acknowledged {
        /// The bound: the highest of the sources, if any.
        acknowledged: Option<WalPosition>,
        /// Where the bound came from.
        source: Option<AcknowledgedSource>,
        /// The position given in the inputs, if any.
        given: Option<WalPosition>,
        /// The derivation from the primary's reported synchronous rules, if it reported any.
        derivation: Option<Derivation>,
        /// The old primary's clean shutdown checkpoint, if its agent stated one.
        clean_stop: Option<WalPosition>,
    },
    /// Check 5: the acknowledged position against the candidate's WAL and history.
    CaughtUp {
        /// Candidate position.
        candidate: WalPosition,
        /// Highest acknowledged position, if known.
        acknowledged: Option<WalPosition>,
        /// Whether the acknowledged position lies on the candidate's history, at or before its end.
        held: bool,
    },
    /// Check 6 without an authority history.
    NoAuthorityHistory,
    /// Check 6 without the candidate's history.
    HistoryUnknown,
    /// Check 6: both histories and the verdict of the prefix rule.
    Prefix {
        /// Candidate history.
        candidate: EpochHistory,
        /// Candidate position.
        position: WalPosition,
        /// Authoritative history.
        authority: EpochHistory,
        /// The prefix rule's answer.
        continuation: Continuation,
    },
    /// Check 7 without an MVCC summary.
    MvccUnknown,
    /// Check 7: the visibility boundary against the WAL end.
    Boundary {
        /// Newest visible commit.
        visible_commit: Lsn,
        /// A commit being applied.
        applying: Option<PartialCommit>,
        /// End of the candidate's WAL.
        wal_end: Lsn,
    },
}

/// The deterministic text explanations show for what a check compared.
impl fmt::Display for Compared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compared::CandidateMissing => f.write_str("candidate: not described by the inputs"),
            Compared::Role { candidate, role } => {
                write!(f, "candidate {candidate} role {role}; required ReplicaActive")
            }
            Compared::NoAuthorityRecord => f.write_str("authority record: none"),
            Compared::Authority { epoch, primary, duplicates, claimants, candidate_epoch, ahead } => {
                write!(f, "authority epoch {epoch} primary {primary}; ")?;
                if !duplicates.is_empty() {
                    write!(f, "described more than once: [{}]; ", Joined(duplicates))?;
                }
                write!(f, "other nodes reporting PrimaryActive: [{}", Joined(claimants))?;
                write!(f, "]; candidate's newest epoch: {}", OrUnknown(*candidate_epoch))?;
                if !ahead.is_empty() {
                    write!(f, "; other nodes knowing a newer epoch: [{}]", Joined(ahead))?;
                }
                Ok(())
            }
            Compared::OldPrimary { primary, reported, seen_active, stated, force } => {
                match primary {
                    Some(p) => write!(f, "old primary {p}")?,
                    None => f.write_str("old primary none")?,
                }
                let observed = if *seen_active { "PrimaryActive" } else { "not active" };
                write!(f, ": reported {reported}, observed {observed}; ")?;
                if let Some(s) = stated {
                    let how = if s.clean { "cleanly" } else { "not cleanly" };
                    write!(f, "its agent stated it stopped ({how}, checkpoint {}); ", s.checkpoint)?;
                }
                write!(f, "force {force}")
            }
            Compared::Acknowledged { acknowledged, source, given, derivation, clean_stop } => {
                write!(f, "acknowledged position: {}", OrUnknown(*acknowledged))?;
                if let Some(source) = source {
                    write!(f, " ({source})")?;
                }
                // Each source the bound did not come from, so the reader sees what it outweighed.
                if let Some(g) = given.filter(|_| *source != Some(AcknowledgedSource::Given)) {
                    write!(f, "; given: {g}")?;
                }
                match derivation {
                    Some(d) => write!(f, "; derived: {d}")?,
                    None if acknowledged.is_none() => {
                        f.write_str("; no synchronous rule reported for this epoch")?
                    }
                    None => {}
                }
                if let Some(c) = clean_stop.filter(|_| *source != Some(AcknowledgedSource::CleanStop)) {
                    write!(f, "; clean stop at {c}")?;
                }
                Ok(())
            }
            // The relation as it is, then what is required: a failed check reads true.
            Compared::CaughtUp { candidate, acknowledged, held } => write!(
                f,
                "acknowledged {} {} the candidate's WAL ending at {candidate} (required: held, on the candidate's own history)",
                OrUnknown(*acknowledged),
                if *held { "is held by" } else { "is not held by" },
            ),
            Compared::NoAuthorityHistory => f.write_str("authority history: none"),
            Compared::HistoryUnknown => f.write_str("candidate history: unknown"),
            Compared::Prefix { candidate, position, authority, continuation } => write!(
                f,
                "candidate history {} at {position} against authority history {}: {continuation}",
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
