//! The store contract every durable authority store keeps: [`AuthorityStore`], the
//! [`Proposal`]s it receives, the rules it applies atomically with its writes
//! ([`check_commit`], [`check_evidence`], [`check_report`], [`start_over_record`]), the handle's
//! poisoning ([`Poison`]) and its errors ([`StoreError`]) (§5, §9, P6-A1, P6-A2, P6-F3). The
//! file store is `file_store.rs`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use aerodb_core::{Epoch, Lsn, NodeId, WalPosition};

use crate::codec::{DecodeError, EncodeError};
use crate::display::EpochOrNone;
use crate::evidence::PrimaryReport;
use crate::record::{AuthorityRecord, RequestSummary};
use crate::slot::{PromotionSlot, WentBack};

/// A record a store is asked to make durable, and the record it must replace (`None`: no record
/// yet). Only this crate makes one: the bootstrap record, or the successor the commit edge
/// builds from a validator [`Approval`](crate::Approval) and the durable record it loaded
/// (P6-A1, P6-A3). A store implementor reads it; nobody outside this crate can make one, so no
/// record reaches a store but through bootstrap or the commit edge.
#[derive(Debug, PartialEq, Eq)]
pub struct Proposal {
    expected: Option<AuthorityRecord>,
    record: AuthorityRecord,
    report: Option<PrimaryReport>,
}

impl Proposal {
    /// Epoch 1 led by `primary`, replacing nothing.
    pub(crate) fn bootstrap(primary: NodeId) -> Self {
        Proposal { expected: None, record: AuthorityRecord::bootstrap(primary), report: None }
    }

    /// `record`, to replace the authority `expected`. The caller vouches for `record`: the
    /// commit edge's successor, or a deliberately wrong one in the conformance suite.
    pub(crate) fn new(expected: Option<AuthorityRecord>, record: AuthorityRecord) -> Self {
        Proposal { expected, record, report: None }
    }

    /// The same proposal, made only while the store holds exactly `report`: the primary report
    /// the approval's evidence came from ([`check_evidence`]).
    pub(crate) fn resting_on(mut self, report: Option<PrimaryReport>) -> Self {
        self.report = report;
        self
    }

    /// The primary report that must still be stored, unchanged, for the commit to apply; `None`:
    /// the approval did not rest on one.
    pub fn report(&self) -> Option<&PrimaryReport> {
        self.report.as_ref()
    }

    /// The epoch the current record must have; `None`: there must be no record.
    pub fn expected(&self) -> Option<Epoch> {
        self.expected.as_ref().map(AuthorityRecord::epoch)
    }

    /// The whole record the current one must be — epoch, primary, start, history and request —
    /// for the proposal to replace it; `None`: there must be no record.
    pub fn predecessor(&self) -> Option<&AuthorityRecord> {
        self.expected.as_ref()
    }

    /// The record to make durable.
    pub fn record(&self) -> &AuthorityRecord {
        &self.record
    }

    pub(crate) fn into_record(self) -> AuthorityRecord {
        self.record
    }
}

/// A durable home for one authority record, replaced only by compare-and-swap on the whole
/// record ([`check_commit`]).
///
/// [`FileAuthorityStore`](crate::FileAuthorityStore) keeps it in a data directory; a store on a
/// replicated system (etcd, say) lets the control plane survive losing its own machine. Run the
/// conformance suite (`testing::Suite`, feature `testing`) against every implementation.
///
/// # To ensure correctness, an implementation must
///
/// - **`load`**: return exactly the record made durable by the last successful `commit` of
///   any handle on this authority, or `None` if none ever was — never a stale copy (read from
///   a quorum, never a possibly lagging replica), and never a record that is not yet durable
///   (make it durable first, as the file store's open fsyncs before reading, P6-F2). Decode with
///   [`AuthorityRecord::from_bytes`]; bytes that fail any check are
///   [`StoreError::Corrupt`], never "no record" and never a guess (P6-F1).
/// - **`commit`**: apply [`check_commit`] against the current durable record *atomically with*
///   the write — a compare-and-swap, not a read followed by a write another controller can slip
///   between (P6-A1). When it fails, write nothing. Return `Ok` only once the record is durable
///   (P6-A2). After any error that may have left the write applied or half-applied (an fsync
///   error, a timeout after the request was sent), poison the handle: every later call returns
///   [`StoreError::Poisoned`] (or [`StoreError::OutcomeUnknown`] for the first), and never retry
///   (§5, P6-F3). Only a fresh handle's `load` decides old or new.
/// - **`slot`**: return the same slot for the handle's whole life. One handle per authority per
///   process (the file store enforces it with a lock), so the slot keeps attempts one at a time.
/// - Never decide anything by time: no lease, TTL or session may grant or keep authority (P6-A3).
///
/// An implementation cannot make a record to commit: it receives [`Proposal`]s, which only
/// bootstrap and the commit edge make. `bootstrap` is provided; implementations keep it.
pub trait AuthorityStore {
    /// The current durable record; `None` if no authority was ever bootstrapped. A record that
    /// fails any check is an error, never a guess (P6-F1).
    fn load(&self) -> Result<Option<AuthorityRecord>, StoreError>;

    /// Makes the proposal's record the authority atomically and durably, if the current record is
    /// exactly the proposal's predecessor and the record is its successor ([`check_commit`]). Any
    /// error that may have written is final for this handle: reported, poisoned, never retried.
    fn commit(&mut self, proposal: &Proposal) -> Result<(), StoreError>;

    /// The slot that keeps promotions of this authority one at a time within the process, and
    /// carries its metrics and what the handle has seen: `load` passes what it read through
    /// [`PromotionSlot::admit_loaded`] and a successful `commit` what it wrote through
    /// [`PromotionSlot::note_committed`], so the handle never moves backwards (P6-A1). It lives with the store handle because the handle is what is unique
    /// per authority and process.
    fn slot(&self) -> &PromotionSlot;

    /// The primary's report kept beside the authority; `None` if none was ever written. Bytes
    /// that fail any check are [`StoreError::Corrupt`] (P6-F1). Read like `load`: from a quorum,
    /// never a lagging copy, never before it is durable.
    fn load_report(&self) -> Result<Option<PrimaryReport>, StoreError>;

    /// Replaces the report by `report` if the stored one is exactly `expected` and
    /// [`check_report`] allows it against the current authority, atomically with the write
    /// (a compare-and-swap over both, like `commit`); `Ok` only once durable. Errors that may
    /// have written poison the handle, as for `commit`.
    fn swap_report(
        &mut self,
        expected: Option<&PrimaryReport>,
        report: &PrimaryReport,
    ) -> Result<(), StoreError>;

    /// Writes the first authority, epoch 1 led by `primary`; refused if any record exists.
    /// The one way to write epoch 1; its primary's gate is made writable through
    /// [`recover`](crate::recover)'s grant.
    fn bootstrap(&mut self, primary: NodeId) -> Result<AuthorityRecord, StoreError> {
        let proposal = Proposal::bootstrap(primary);
        self.commit(&proposal)?;
        Ok(proposal.into_record())
    }
}

/// The compare-and-swap rule every store applies before writing (P6-A1): the current record is
/// exactly the proposal's predecessor — its epoch, then the whole record (primary, start,
/// history, request), so that a proposal made from another authority at the same epoch (another
/// cluster's data directory or key, a record restored behind the store's back) is refused —
/// and the proposed record is its successor (epoch + 1, or [`Epoch::INITIAL`] when empty).
///
/// `current` is the durable record as the store read it, atomically with the write that follows
/// (see [`AuthorityStore::commit`]). A refusal writes nothing: [`StoreError::Conflict`] when the
/// epoch differs, [`StoreError::PredecessorMismatch`] when the epoch matches but the record does
/// not, [`StoreError::NotSuccessor`] when the proposed epoch does not follow.
pub fn check_commit(current: Option<&AuthorityRecord>, proposal: &Proposal) -> Result<(), StoreError> {
    let found = current.map(AuthorityRecord::epoch);
    let expected = proposal.expected();
    if found != expected {
        return Err(StoreError::Conflict(Conflict { expected, found }));
    }
    if let (Some(found), Some(expected)) = (current, &proposal.expected)
        && found != expected
    {
        return Err(StoreError::PredecessorMismatch(PredecessorMismatch {
            expected: Box::new(expected.clone()),
            found: Box::new(found.clone()),
        }));
    }
    let record = &proposal.record;
    if Some(record.epoch()) != found.map_or(Some(Epoch::INITIAL), Epoch::next) {
        return Err(StoreError::NotSuccessor { current: found, proposed: record.epoch() });
    }
    Ok(())
}

/// The evidence rule every store applies with [`check_commit`], atomically with the write,
/// when the proposal rests on a primary report ([`Proposal::report`]): the store still holds
/// exactly that report. A primary resumed since (its stop statement withdrawn) or a rule
/// recorded since makes the evidence stale: [`StoreError::EvidenceChanged`], nothing written.
/// A store reads the report only for such a proposal.
pub fn check_evidence(current: Option<&PrimaryReport>, proposal: &Proposal) -> Result<(), StoreError> {
    match proposal.report() {
        Some(rested_on) if current != Some(rested_on) => Err(StoreError::EvidenceChanged),
        _ => Ok(()),
    }
}

/// The rule every store applies before replacing the primary's report, atomically with the
/// write: the stored report is exactly `expected`; the new one speaks for the current
/// `authority` (its epoch and primary: nobody writes evidence for an epoch that is over, P6-A1);
/// no report of a newer epoch is replaced by an older one's (it proves the authority went
/// back); and within one epoch a stop request or a stop statement, once made, stays as it is until a
/// resume withdraws both together (the primary may then be opened again: a promotion that
/// rested on the statement no longer commits, [`check_evidence`]); nor do the rules change
/// while a stop stands.
pub fn check_report(
    authority: Option<&AuthorityRecord>,
    current: Option<&PrimaryReport>,
    expected: Option<&PrimaryReport>,
    report: &PrimaryReport,
) -> Result<(), StoreError> {
    if current != expected {
        return Err(StoreError::Report(ReportRefusal::Changed));
    }
    let Some(authority) = authority.filter(|a| report.is_for(a.epoch(), a.primary())) else {
        return Err(StoreError::Report(ReportRefusal::NotCurrent {
            epoch: report.epoch(),
            primary: report.primary(),
            authority: authority.map(|a| (a.epoch(), a.primary())),
        }));
    };
    // A report of a newer epoch proves the authority went back (check 2 denies on it): never
    // overwritten by one of an older epoch.
    if let Some(current) = current.filter(|c| c.epoch() > report.epoch()) {
        return Err(StoreError::Report(ReportRefusal::Backwards {
            stored: current.epoch(),
            report: report.epoch(),
        }));
    }
    if let Some(current) = current.filter(|c| c.is_for(authority.epoch(), authority.primary())) {
        let resumed = !report.stop_requested() && report.stopped().is_none();
        let stopped_kept = current.stopped().is_none() || current.stopped() == report.stopped();
        let request_kept = !current.stop_requested() || report.stop_requested();
        if !(resumed || stopped_kept && request_kept) {
            return Err(StoreError::Report(ReportRefusal::StopTakenBack));
        }
        // The rules a stop rests on stay with it (P6-S1: narrowed, they would derive a lower
        // bound for what the primary acknowledged under the old ones).
        let stopping = current.stop_requested() || current.stopped().is_some();
        if stopping && !resumed && report.synchronous() != current.synchronous() {
            return Err(StoreError::Report(ReportRefusal::RulesWhileStopped));
        }
    }
    Ok(())
}

/// Why a report was not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportRefusal {
    /// The stored report is not the one the writer read: read it again.
    #[error("the stored primary report changed since it was read")]
    Changed,
    /// The report is not for the current authority.
    #[error("a report for {primary} at epoch {epoch} does not speak for the current authority ({})", match .authority {
        Some((epoch, primary)) => format!("{primary} at epoch {epoch}"),
        None => "none".to_owned(),
    })]
    NotCurrent {
        /// The report's epoch.
        epoch: Epoch,
        /// The report's primary.
        primary: NodeId,
        /// The current authority's epoch and primary, if any.
        authority: Option<(Epoch, NodeId)>,
    },
    /// A stop request or statement would be changed, or one withdrawn without the other.
    #[error("a stop request or stop statement stays as it is until a resume withdraws both")]
    StopTakenBack,
    /// The synchronous rules would change while a stop is requested or stated.
    #[error("the synchronous rules stay as they are while a stop is requested or stated")]
    RulesWhileStopped,
    /// The stored report is of a newer epoch than the report: the authority went back, and the
    /// report that proves it stays.
    #[error(
        "the stored primary report is of epoch {stored}, newer than this one's ({report}): the authority went back; the newer report stays"
    )]
    Backwards {
        /// The stored report's epoch.
        stored: Epoch,
        /// The refused report's epoch.
        report: Epoch,
    },
}

/// The start-over rule every store applies before writing (P6-A1, P6-A3): a reason is given,
/// and `above` is at least every epoch the store still `held` (its record and its high-water
/// copy, as far as they can be read). The record to write: `primary` at `above + 1`, its
/// epoch beginning after `start`, the reason as its request, no earlier history.
pub fn start_over_record(
    primary: NodeId,
    above: Epoch,
    held: Option<Epoch>,
    start: Lsn,
    reason: &str,
) -> Result<AuthorityRecord, StoreError> {
    let refused = StoreError::StartOver;
    if reason.trim().is_empty() {
        return Err(refused("a reason is required".to_owned()));
    }
    if let Some(held) = held.filter(|held| above < *held) {
        return Err(refused(format!(
            "epoch {above} is below epoch {held} that the store still holds; start above every epoch that ever was"
        )));
    }
    let epoch = above.next().ok_or_else(|| refused(format!("epoch {above} cannot be raised further")))?;
    AuthorityRecord::started_over(primary, epoch, WalPosition::new(epoch, start), reason)
        .map_err(|e| refused(e.to_string()))
}

/// A compare-and-swap that found another epoch than the one expected (or the key rewritten
/// since it was read, when `expected == found`): nothing was written. The epoch conflict type,
/// from a store's commit and from the commit edge (P6-A1); a record that differs at the same
/// epoch is a [`PredecessorMismatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", ConflictText(self))]
pub struct Conflict {
    /// The epoch expected (`None`: no record).
    pub expected: Option<Epoch>,
    /// The epoch found (`None`: no record).
    pub found: Option<Epoch>,
}

/// [`Conflict`]'s message.
struct ConflictText<'a>(&'a Conflict);

impl fmt::Display for ConflictText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Conflict { expected, found } = *self.0;
        if expected == found {
            return write!(
                f,
                "the authority at {} was written again since this commit read it; nothing was written",
                EpochOrNone(found)
            );
        }
        write!(
            f,
            "the authority changed: expected {}, found {}; nothing was written",
            EpochOrNone(expected),
            EpochOrNone(found)
        )
    }
}

/// A compare-and-swap that found the expected epoch held by another authority than the one the
/// proposal replaces — another primary, start, history or request: nothing was written (P6-A1).
/// The message names each field that differs, durable value first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the durable authority at epoch {} is not the one this commit replaces: {}; nothing was written",
    .found.epoch(),
    Differences(.found, .expected)
)]
pub struct PredecessorMismatch {
    /// The record the proposal replaces: the one its validation read.
    pub expected: Box<AuthorityRecord>,
    /// The durable record at the same epoch.
    pub found: Box<AuthorityRecord>,
}

/// What differs between a durable record and the one expected, field by field.
struct Differences<'a>(&'a AuthorityRecord, &'a AuthorityRecord);

/// A record's request: who was promoted, force, reason and request id; `bootstrap` for none.
struct RequestText<'a>(Option<&'a RequestSummary>);

impl fmt::Display for RequestText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(r) = self.0 else { return f.write_str("bootstrap") };
        write!(f, "candidate {}, force {}", r.candidate, r.force)?;
        match &r.reason {
            Some(reason) => write!(f, ", reason {reason:?}")?,
            None => f.write_str(", no reason")?,
        }
        match &r.request_id {
            Some(id) => write!(f, ", request id {id:?}"),
            None => f.write_str(", no request id"),
        }
    }
}

impl fmt::Display for Differences<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (found, expected) = (self.0, self.1);
        let mut parts = Vec::new();
        if found.primary() != expected.primary() {
            parts.push(format!("primary {}, expected {}", found.primary(), expected.primary()));
        }
        if found.start() != expected.start() {
            parts.push(format!("epoch began at {}, expected {}", found.start(), expected.start()));
        }
        let (durable, wanted) = (found.history(), expected.history());
        if durable.len() != wanted.len() {
            parts.push(format!("{} earlier authorities, expected {}", durable.len(), wanted.len()));
        } else if let Some((a, b)) = durable.iter().zip(wanted).find(|(a, b)| a != b) {
            parts.push(if (a.epoch, a.primary, a.start) != (b.epoch, b.primary, b.start) {
                format!(
                    "earlier authority epoch {} led by {} from {}, expected epoch {} led by {} from {}",
                    a.epoch, a.primary, a.start, b.epoch, b.primary, b.start
                )
            } else {
                format!(
                    "earlier authority epoch {} made by request ({}), expected ({})",
                    a.epoch,
                    RequestText(a.request.as_ref()),
                    RequestText(b.request.as_ref())
                )
            });
        }
        if found.request() != expected.request() {
            parts.push(format!(
                "made by request ({}), expected ({})",
                RequestText(found.request()),
                RequestText(expected.request())
            ));
        }
        if parts.is_empty() {
            // Every field is compared above; a record that differs elsewhere still differs.
            parts.push("the records differ".to_owned());
        }
        f.write_str(&parts.join("; "))
    }
}

/// One step of a store's local I/O (the file store's), named in [`StoreError::Io`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IoStep {
    /// Creating the metadata directory.
    CreateDir,
    /// Reading a path's owner and mode.
    Stat,
    /// Taking the data directory lock.
    Lock,
    /// Reading the record.
    Read,
    /// Creating the temporary file.
    CreateTemp,
    /// Writing the temporary file.
    Write,
    /// fsync of the temporary file.
    SyncFile,
    /// Renaming the temporary file over the record.
    Rename,
    /// fsync of a directory.
    SyncDir,
    /// Removing a leftover temporary file.
    Remove,
}

impl fmt::Display for IoStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoStep::CreateDir => "create directory",
            IoStep::Stat => "stat",
            IoStep::Lock => "lock",
            IoStep::Read => "read",
            IoStep::CreateTemp => "create temporary file",
            IoStep::Write => "write",
            IoStep::SyncFile => "fsync file",
            IoStep::Rename => "rename",
            IoStep::SyncDir => "fsync directory",
            IoStep::Remove => "remove leftover",
        })
    }
}

impl From<Box<WentBack>> for StoreError {
    fn from(went_back: Box<WentBack>) -> Self {
        StoreError::WentBack(went_back)
    }
}

/// Why the store refuses a path: someone other than its owner could change the authority.
///
/// The record decides which node may write; its CRC catches accidents, not intent. Like
/// PostgreSQL with its data directory and OpenSSH's StrictModes, the store refuses a
/// `metadata/` directory or record that group or others may write, or that another user owns.
/// Group or other *read* is not refused: reading a record grants nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PermissionProblem {
    /// Group or others may write it.
    #[error(
        "{} has mode {mode:04o}, which lets group or others write it; required: no write for group or others (the store creates it as {required:04o})",
        .path.display()
    )]
    Writable {
        /// The path.
        path: PathBuf,
        /// The mode found.
        mode: u32,
        /// The mode the store creates it with.
        required: u32,
    },
    /// Another user owns it.
    #[error("{} is owned by uid {owner}, but this process runs as uid {euid}; only the owner may use the store", .path.display())]
    ForeignOwner {
        /// The path.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// This process's effective uid.
        euid: u32,
    },
}

/// Where a store keeps what an error is about: a file's path or a replicated store's key,
/// each displayed as itself (a path as [`Path::display`] shows it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Location {
    /// A file or directory of a store on a file system.
    Path(std::path::PathBuf),
    /// A key (an etcd key), or the name of a store that is not a file system (`<memory>`).
    Key(String),
}

impl Location {
    /// The location of `path`.
    pub fn path(path: impl AsRef<Path>) -> Self {
        Location::Path(path.as_ref().to_owned())
    }

    /// The location of `key`.
    pub fn key(key: impl Into<String>) -> Self {
        Location::Key(key.into())
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Path(path) => path.display().fmt(f),
            Location::Key(key) => f.write_str(key),
        }
    }
}

/// A store handle's poisoning (§5, P6-F3): once a write's outcome is unknown (a failed fsync,
/// a request sent and never answered), every later call on the handle is refused with
/// [`StoreError::Poisoned`] and nothing is retried; only a fresh handle's read decides old or
/// new. Every store keeps one and checks it first.
#[derive(Debug, Default)]
pub struct Poison(Mutex<Option<String>>);

impl Poison {
    /// A handle not poisoned.
    pub fn new() -> Self {
        Poison::default()
    }

    /// `Ok` while the handle is usable; [`StoreError::Poisoned`] with the first cause once not.
    pub fn check(&self) -> Result<(), StoreError> {
        match &*self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(cause) => Err(StoreError::Poisoned(cause.clone())),
            None => Ok(()),
        }
    }

    /// Poisons the handle for good, for `cause` (kept in every later refusal; a later cause
    /// does not replace the first).
    pub fn set(&self, cause: impl Into<String>) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert_with(|| cause.into());
    }

    /// A write whose outcome no answer settles: poisons the handle and returns
    /// [`StoreError::OutcomeUnknown`] with `detail`.
    pub fn unknown(&self, detail: String) -> StoreError {
        self.set(detail.clone());
        StoreError::OutcomeUnknown { detail }
    }
}

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An explicit start-over was refused; nothing was written.
    #[error("refusing to start the authority over: {0}")]
    StartOver(String),
    /// Another controller holds the store: the file store's data directory lock, or another
    /// handle on the same key in this process.
    #[error("authority store {location} is locked by another controller")]
    Locked {
        /// What is held: the file store's lock file, a replicated store's key.
        location: Location,
    },
    /// The store shows an authority older than this handle has seen, another at the same
    /// epoch, or none after one (P6-A1): nothing is decided on it.
    #[error(transparent)]
    WentBack(Box<WentBack>),
    /// Someone other than the store's owner could change the authority: refused before
    /// anything is read or written (P6-A1).
    #[error("refusing the authority store: {0}")]
    Insecure(PermissionProblem),
    /// A stored record or report exists but fails a check: no authority is assumed (P6-F1).
    #[error("stored authority data at {location} is invalid: {error}")]
    Corrupt {
        /// Where the bytes were read: a file, a key.
        location: Location,
        /// The failed check (in the message, not repeated as a source).
        error: DecodeError,
    },
    /// The compare-and-swap failed: the current record is not at the epoch expected.
    #[error(transparent)]
    Conflict(Conflict),
    /// The primary's report was not replaced; nothing was written.
    #[error("primary report refused: {0}")]
    Report(ReportRefusal),
    /// The commit rested on a primary report the store no longer holds (a rule recorded or the
    /// primary resumed since the decision): nothing was written.
    #[error(
        "the primary report the decision rested on changed since: nothing was written; observe and decide again"
    )]
    EvidenceChanged,
    /// The compare-and-swap failed: the current record is at the epoch expected but is another
    /// authority than the proposal's predecessor (P6-A1). Nothing was written.
    #[error(transparent)]
    PredecessorMismatch(PredecessorMismatch),
    /// The proposed record is not the current one's successor (epoch + 1, or 1 when empty).
    #[error("epoch {proposed} does not follow {}", EpochOrNone(*.current))]
    NotSuccessor {
        /// The current epoch.
        current: Option<Epoch>,
        /// The proposed epoch.
        proposed: Epoch,
    },
    /// The record does not encode.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// An I/O step failed. During a commit this is fatal for the handle (never retried).
    #[error("{step} failed on {location}: {error}")]
    Io {
        /// The step.
        step: IoStep,
        /// The file or directory it acted on.
        location: Location,
        /// The OS error (in the message, not repeated as a source).
        error: Arc<std::io::Error>,
    },
    /// A store that is not a file (a network or consensus store) failed an operation before
    /// anything could have been written; its own error text says why.
    #[error("authority store {operation} failed: {detail}")]
    Backend {
        /// The operation, e.g. `read` or `commit`.
        operation: &'static str,
        /// What the store's client reported.
        detail: String,
    },
    /// A commit request was sent and no answer says whether it applied (a timeout or lost
    /// connection after sending). Like a failed fsync, the handle is poisoned; only a fresh
    /// read of the store (recovery) decides old or new, and nothing is retried (§5).
    #[error("authority store commit outcome is unknown: {detail}")]
    OutcomeUnknown {
        /// What the store's client reported.
        detail: String,
    },
    /// An earlier commit failed; this handle refuses all use. Reopen the store to recover.
    #[error("this authority store handle failed earlier ({0}); reopen the store to recover")]
    Poisoned(String),
}

#[cfg(test)]
pub(crate) mod tests {
    use aerodb_core::{Lsn, WalPosition};

    use super::*;
    use crate::record::{Force, PastAuthority, RecordBody};

    pub(crate) fn node(name: &str) -> NodeId {
        NodeId::new(name).unwrap()
    }

    fn at(epoch: u64, lsn: u64) -> WalPosition {
        WalPosition::new(Epoch::new(epoch), Lsn::new(lsn))
    }

    fn asked(candidate: &str, reason: Option<&str>) -> RequestSummary {
        let reason = reason.map(str::to_owned);
        RequestSummary {
            candidate: node(candidate),
            force: Force::NotRequested,
            reason,
            request_id: None,
            evidence: None,
        }
    }

    /// Epoch 2 led by `primary` from `start`, after epoch 1 led by `first` (made by `first_by`).
    pub(crate) fn second(
        primary: &str,
        start: u64,
        first: &str,
        first_by: Option<RequestSummary>,
    ) -> AuthorityRecord {
        let earlier =
            PastAuthority { epoch: Epoch::new(1), primary: node(first), start: at(1, 0), request: first_by };
        AuthorityRecord::try_from(RecordBody {
            epoch: Epoch::new(2),
            primary: node(primary),
            previous_primary: Some(node(first)),
            start: at(1, start),
            history: vec![earlier],
            request: Some(asked(primary, None)),
        })
        .unwrap()
    }

    /// P6-A1: the epoch first, then the whole record, then the successor epoch.
    #[test]
    fn a_commit_compares_the_epoch_then_the_whole_predecessor_then_the_successor() {
        let durable = second("b", 10, "a", None);
        let third = |from: &AuthorityRecord| {
            let mut body = from.body().clone();
            body.history.push(PastAuthority {
                epoch: body.epoch,
                primary: body.primary,
                start: body.start,
                request: body.request.clone(),
            });
            (body.epoch, body.previous_primary, body.start) = (Epoch::new(3), Some(body.primary), at(2, 40));
            AuthorityRecord::try_from(body).unwrap()
        };
        let ok = Proposal::new(Some(durable.clone()), third(&durable));
        assert_eq!((ok.expected(), ok.predecessor()), (Some(Epoch::new(2)), Some(&durable)));
        assert_eq!(Proposal::bootstrap(node("a")).predecessor(), None);
        assert!(check_commit(Some(&durable), &ok).is_ok());
        let first = AuthorityRecord::bootstrap(node("a"));
        let stale = Proposal::new(Some(first.clone()), durable.clone());
        let Err(StoreError::Conflict(conflict)) = check_commit(Some(&durable), &stale) else { panic!() };
        assert_eq!(conflict, Conflict { expected: Some(Epoch::new(1)), found: Some(Epoch::new(2)) });
        for other in [second("c", 10, "a", None), second("b", 20, "a", None), second("b", 10, "z", None)] {
            let crossed = Proposal::new(Some(other.clone()), third(&other));
            let Err(StoreError::PredecessorMismatch(m)) = check_commit(Some(&durable), &crossed) else {
                panic!("{other:?}")
            };
            assert_eq!((*m.expected, *m.found), (other, durable.clone()));
        }
        let same = Proposal::new(Some(durable.clone()), durable.clone());
        assert!(matches!(check_commit(Some(&durable), &same), Err(StoreError::NotSuccessor { .. })));
        assert!(matches!(check_commit(None, &Proposal::bootstrap(node("a"))), Ok(())));
        let Err(StoreError::Conflict(none)) = check_commit(None, &ok) else { panic!() };
        assert_eq!(
            none.to_string(),
            "the authority changed: expected epoch 2, found no record; nothing was written"
        );
    }

    /// What an operator reads: each field that differs, durable value first.
    #[test]
    fn a_predecessor_mismatch_names_what_differs() {
        let text = |found: AuthorityRecord, expected: AuthorityRecord| {
            StoreError::PredecessorMismatch(PredecessorMismatch {
                expected: Box::new(expected),
                found: Box::new(found),
            })
            .to_string()
        };
        let head = "the durable authority at epoch 2 is not the one this commit replaces: ";
        let tail = "; nothing was written";
        assert_eq!(
            text(second("b", 10, "a", None), second("c", 20, "a", None)),
            format!(
                "{head}primary b, expected c; epoch began at 1/10, expected 1/20; made by request \
                 (candidate b, force not_requested, no reason, no request id), expected (candidate c, \
                 force not_requested, no reason, no request id){tail}"
            )
        );
        assert_eq!(
            text(second("b", 10, "a", None), second("b", 10, "z", None)),
            format!(
                "{head}earlier authority epoch 1 led by a from 1/0, expected epoch 1 led by z from 1/0{tail}"
            )
        );
        let by = |reason| Some(RequestSummary { request_id: Some("r-1".to_owned()), ..asked("a", reason) });
        assert_eq!(
            text(second("b", 10, "a", by(Some("maintenance"))), second("b", 10, "a", by(None))),
            format!(
                "{head}earlier authority epoch 1 made by request (candidate a, force not_requested, \
                 reason \"maintenance\", request id \"r-1\"), expected (candidate a, force \
                 not_requested, no reason, request id \"r-1\"){tail}"
            )
        );
        let mut longer = second("b", 10, "a", None).body().clone();
        longer.history.insert(
            0,
            PastAuthority { epoch: Epoch::new(0), primary: node("y"), start: at(0, 0), request: None },
        );
        assert_eq!(
            text(AuthorityRecord::try_from(longer).unwrap(), second("b", 10, "a", None)),
            format!("{head}2 earlier authorities, expected 1{tail}")
        );
        let bootstrap = AuthorityRecord::bootstrap(node("a"));
        let mut by_request = bootstrap.body().clone();
        by_request.request = Some(asked("a", None));
        let text = StoreError::PredecessorMismatch(PredecessorMismatch {
            expected: Box::new(AuthorityRecord::try_from(by_request).unwrap()),
            found: Box::new(bootstrap),
        })
        .to_string();
        assert!(text.contains("made by request (bootstrap), expected (candidate a,"), "{text}");
    }

    /// A file's path and an etcd key read alike in the errors that name where they happened.
    #[test]
    fn errors_name_a_path_or_a_key_as_itself() {
        let locked = |location| StoreError::Locked { location }.to_string();
        assert_eq!(
            locked(Location::path("/srv/d/metadata/authority.lock")),
            "authority store /srv/d/metadata/authority.lock is locked by another controller"
        );
        assert_eq!(
            locked(Location::key("/aerodb/c1/authority")),
            "authority store /aerodb/c1/authority is locked by another controller"
        );
        let corrupt = StoreError::Corrupt {
            location: Location::key("/aerodb/c1/authority"),
            error: crate::codec::decode(b"AERODBAR").unwrap_err(),
        };
        assert!(
            corrupt.to_string().starts_with("stored authority data at /aerodb/c1/authority is invalid: "),
            "{corrupt}"
        );
        let io = StoreError::Io {
            step: IoStep::SyncFile,
            location: Location::path("d/metadata/authority.record.tmp"),
            error: Arc::new(std::io::Error::other("injected EIO")),
        };
        assert_eq!(io.to_string(), "fsync file failed on d/metadata/authority.record.tmp: injected EIO");
    }

    /// An unknown outcome poisons for good; every later check refuses with its cause.
    #[test]
    fn a_poisoned_handle_refuses_with_its_cause() {
        let poison = Poison::new();
        assert!(poison.check().is_ok());
        let first = poison.unknown("timed out after sending".to_owned());
        assert!(
            matches!(first, StoreError::OutcomeUnknown { ref detail } if detail == "timed out after sending")
        );
        let Err(StoreError::Poisoned(cause)) = poison.check() else {
            panic!("usable after an unknown outcome")
        };
        assert_eq!(cause, "timed out after sending");
    }

    /// A compare that failed on a record written again unchanged says so, not "expected 2, found 2".
    #[test]
    fn a_conflict_at_the_same_epoch_says_the_record_was_written_again() {
        let again = Conflict { expected: Some(Epoch::new(2)), found: Some(Epoch::new(2)) };
        assert_eq!(
            again.to_string(),
            "the authority at epoch 2 was written again since this commit read it; nothing was written"
        );
        let moved = Conflict { expected: Some(Epoch::new(2)), found: Some(Epoch::new(3)) };
        assert_eq!(
            moved.to_string(),
            "the authority changed: expected epoch 2, found epoch 3; nothing was written"
        );
    }
}
