//! Durable authority stores: the trait, and the file store for one data directory (§9, P6-A2, P6-F2).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};

use aerodb_core::{Epoch, Lsn, NodeId, WalPosition};

use crate::codec::{self, DecodeError, EncodeError};
use crate::display::EpochOrNone;
use crate::evidence::PrimaryReport;
use crate::io::{Backend, DIR_MODE, FILE_MODE, Ownership, StdBackend};
use crate::observe;
use crate::record::{AuthorityRecord, RequestSummary};
use crate::slot::{PromotionSlot, WentBack};
use crate::states::{AuthorityTransitioning, PromotionState};

/// Where a data directory keeps promotion metadata.
pub const METADATA_DIR: &str = "metadata";
/// The authority record's file name inside [`METADATA_DIR`]: `<data-dir>/metadata/authority.record`.
pub const RECORD_FILE: &str = "authority.record";
/// The temporary file a commit writes before renaming it over the record.
pub const TEMP_FILE: &str = "authority.record.tmp";
/// The lock file held by the controller that owns the data directory.
pub const LOCK_FILE: &str = "authority.lock";
/// A copy of the newest record the store ever made durable, written after each commit point:
/// a record restored from a backup, replaced or deleted behind the store's back shows up as
/// older than it, and a store that once held an authority never bootstraps again (P6-A1).
pub const HIGHEST_FILE: &str = "authority.highest";
/// The temporary file the high-water copy is written to before its rename.
pub const HIGHEST_TEMP_FILE: &str = "authority.highest.tmp";
/// The primary's report beside the record (`PrimaryReport`), replaced like the record.
pub const REPORT_FILE: &str = "primary.report";
/// The temporary file a report is written to before its rename; a leftover is overwritten.
pub const REPORT_TEMP_FILE: &str = "primary.report.tmp";

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
/// [`FileAuthorityStore`] keeps it in a data directory; a store on a replicated system (etcd,
/// say) lets the control plane survive losing its own machine. Run the conformance suite
/// (`testing::Suite`, feature `testing`) against every implementation.
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
/// and within one epoch a stop request or a stop statement, once made, stays as it is until a
/// resume withdraws both together (the primary may then be opened again: a promotion that
/// rested on the statement no longer commits, [`check_evidence`]).
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
    if let Some(current) = current.filter(|c| c.is_for(authority.epoch(), authority.primary())) {
        let resumed = !report.stop_requested() && report.stopped().is_none();
        let stopped_kept = current.stopped().is_none() || current.stopped() == report.stopped();
        let request_kept = !current.stop_requested() || report.stop_requested();
        if !(resumed || stopped_kept && request_kept) {
            return Err(StoreError::Report(ReportRefusal::StopTakenBack));
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

/// Reads and checks the record at `path`: opened directly, never more than one frame's bytes.
fn load_from<B: Backend>(backend: &B, path: &Path) -> Result<Option<AuthorityRecord>, StoreError> {
    decode_from(backend, path, codec::decode)
}

/// The frame in `path` decoded by `decode`, at most one frame's bytes read; `None` if absent.
fn decode_from<B: Backend, T>(
    backend: &B,
    path: &Path,
    decode: fn(&[u8]) -> Result<T, DecodeError>,
) -> Result<Option<T>, StoreError> {
    let limit = codec::MAX_FRAME as u64 + 1;
    let bytes = backend.read(path, limit).map_err(io_error(IoStep::Read, path))?;
    bytes
        .map(|bytes| decode(&bytes))
        .transpose()
        .map_err(|error| StoreError::Corrupt { path: path.to_owned(), error })
}

/// Reads `<data_dir>/metadata/authority.record` without locking or changing anything, for
/// inspection tools, and refuses it if it went back from the store's high-water copy (P6-A1).
/// A controller uses [`FileAuthorityStore::open`] instead.
pub fn read_record(data_dir: impl AsRef<Path>) -> Result<Option<AuthorityRecord>, StoreError> {
    let metadata = data_dir.as_ref().join(METADATA_DIR);
    let highest = load_from(&StdBackend, &metadata.join(HIGHEST_FILE))?;
    let record = load_from(&StdBackend, &metadata.join(RECORD_FILE))?;
    let seen = PromotionSlot::new();
    seen.admit_loaded(highest.as_ref())?;
    seen.admit_loaded(record.as_ref())?;
    Ok(record)
}

/// Reads `<data_dir>/metadata/primary.report` without locking or changing anything, for tools
/// and agents that only read it; bytes that fail any check are [`StoreError::Corrupt`].
pub fn read_report(data_dir: impl AsRef<Path>) -> Result<Option<PrimaryReport>, StoreError> {
    let path = data_dir.as_ref().join(METADATA_DIR).join(REPORT_FILE);
    decode_from(&StdBackend, &path, codec::decode_report)
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

/// The store's permission rule (P6-A1) as a pure function of what `stat` says: `None` if
/// `ownership` is acceptable for a path the store creates with mode `required`.
pub fn judge_permissions(
    path: &Path,
    required: u32,
    ownership: Ownership,
    euid: u32,
) -> Option<PermissionProblem> {
    if ownership.uid != euid {
        return Some(PermissionProblem::ForeignOwner { path: path.to_owned(), owner: ownership.uid, euid });
    }
    (ownership.mode & 0o022 != 0).then(|| PermissionProblem::Writable {
        path: path.to_owned(),
        mode: ownership.mode,
        required,
    })
}

/// Every permission problem of `metadata/` and the record, in that order.
fn permission_problems<B: Backend>(
    backend: &B,
    metadata: &Path,
    record: &Path,
) -> Result<Vec<PermissionProblem>, StoreError> {
    let euid = backend.effective_uid();
    let mut problems = Vec::new();
    for (path, required) in [(metadata, DIR_MODE), (record, FILE_MODE)] {
        let found = backend.ownership(path).map_err(io_error(IoStep::Stat, path))?;
        problems.extend(found.and_then(|o| judge_permissions(path, required, o, euid)));
    }
    Ok(problems)
}

/// The permission problems of `<data_dir>/metadata` and its record, without changing anything:
/// for inspection tools, which warn and still read. A controller's
/// [`FileAuthorityStore::open`] refuses them instead.
pub fn check_permissions(data_dir: impl AsRef<Path>) -> Result<Vec<PermissionProblem>, StoreError> {
    let metadata = data_dir.as_ref().join(METADATA_DIR);
    permission_problems(&StdBackend, &metadata, &metadata.join(RECORD_FILE))
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

/// One step of the file store's I/O, named in errors.
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

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An explicit start-over was refused; nothing was written.
    #[error("refusing to start the authority over: {0}")]
    StartOver(String),
    /// Another controller holds the data directory.
    #[error("data directory {} is locked by another controller", .path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The store shows an authority older than this handle has seen, another at the same
    /// epoch, or none after one (P6-A1): nothing is decided on it.
    #[error(transparent)]
    WentBack(Box<WentBack>),
    /// Someone other than the store's owner could change the authority: refused before
    /// anything is read or written (P6-A1).
    #[error("refusing the authority store: {0}")]
    Insecure(PermissionProblem),
    /// The record exists but fails a check: no authority is assumed (P6-F1).
    #[error("authority record {} is invalid: {error}", .path.display())]
    Corrupt {
        /// The record file.
        path: PathBuf,
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
    #[error("{step} failed on {}: {error}", .path.display())]
    Io {
        /// The step.
        step: IoStep,
        /// The path it acted on.
        path: PathBuf,
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

/// Maps an OS error at `step` on `path` into a [`StoreError::Io`].
fn io_error(step: IoStep, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_owned();
    move |e| StoreError::Io { step, path, error: Arc::new(e) }
}

/// Creates `dir` and each missing parent, one at a time, outermost first: the directories
/// created, innermost first (empty if `dir` existed). Only a parent reported missing
/// (`NotFound`) is created; the walk stops at the first that exists.
fn create_dirs<B: Backend>(backend: &B, dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut missing = Vec::new();
    let mut next = dir;
    loop {
        match backend.create_dir(next) {
            Ok(false) if missing.is_empty() => return Ok(Vec::new()),
            // `false` here: another process created it since its child was found missing.
            // Counted as created: nobody else may have made its name durable.
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let Some(parent) = next.parent().filter(|p| !p.as_os_str().is_empty()) else {
                    return Err(io_error(IoStep::CreateDir, next)(e));
                };
                missing.push(next);
                next = parent;
            }
            Err(e) => return Err(io_error(IoStep::CreateDir, next)(e)),
        }
    }
    let mut created = vec![next.to_owned()];
    for path in missing.into_iter().rev() {
        backend.create_dir(path).map_err(io_error(IoStep::CreateDir, path))?;
        created.push(path.to_owned());
    }
    created.reverse();
    Ok(created)
}

/// What `open` fsyncs, in order: `metadata/`, the data directory, then the parent of every
/// directory `created` names (innermost first), each once. A relative path's parent `""` is
/// the working directory.
fn dirs_to_sync<'a>(metadata: &'a Path, data_dir: &'a Path, created: &'a [PathBuf]) -> Vec<&'a Path> {
    let mut dirs = vec![metadata, data_dir];
    for dir in created {
        let parent = match dir.parent() {
            Some(parent) if parent.as_os_str().is_empty() => Path::new("."),
            Some(parent) => parent,
            None => continue,
        };
        if !dirs.contains(&parent) {
            dirs.push(parent);
        }
    }
    dirs
}

/// What opening a data directory found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// The metadata directory did not exist and was created.
    pub created_metadata: bool,
    /// Temporary files left by a crashed commit, now removed.
    pub removed_leftovers: Vec<PathBuf>,
}

/// The authority store of one data directory: `<data-dir>/metadata/authority.record`.
///
/// Holds an exclusive lock on the directory for its lifetime (released by the kernel if the
/// process dies). A commit writes a temporary file, fsyncs it, renames it over the record and
/// fsyncs the directory: the rename is the one atomic commit point (P6-A2).
#[derive(Debug)]
pub struct FileAuthorityStore<B: Backend = StdBackend> {
    backend: B,
    metadata: PathBuf,
    record: PathBuf,
    temp: PathBuf,
    highest: PathBuf,
    report: OpenReport,
    poisoned: Option<String>,
    slot: PromotionSlot,
    /// What this handle last read of the record, under its lock, and has not written over
    /// since: the commit compares against it instead of reading the file once more.
    last_read: Mutex<Option<Option<AuthorityRecord>>>,
    _lock: B::Lock,
}

impl FileAuthorityStore {
    /// Opens (creating if needed) the store of `data_dir`, locking it, removing crash leftovers,
    /// and fsyncing `metadata/` and the data directory before anything is read.
    ///
    /// A missing data directory and missing parents are created one at a time, and the parent
    /// of every directory created is fsynced too, up to the first that existed, so that a new
    /// data directory survives a power loss (P6-F2). Any fsync error fails the open.
    ///
    /// Directories are created `0700` and files `0600`, whatever the umask. A `metadata/`
    /// directory or record that group or others may write, or that another user owns, is
    /// refused with [`StoreError::Insecure`] before anything is locked, read or written.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        FileAuthorityStore::open_with(StdBackend, data_dir)
    }
}

impl<B: Backend> FileAuthorityStore<B> {
    /// [`open`](FileAuthorityStore::open) over another I/O backend.
    pub fn open_with(backend: B, data_dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let data_dir = data_dir.as_ref();
        let metadata = data_dir.join(METADATA_DIR);

        let created = create_dirs(&backend, &metadata)?;
        let created_metadata = created.first() == Some(&metadata);
        let record = metadata.join(RECORD_FILE);
        // Nothing is locked, read or written before the permission check (P6-A1).
        if let Some(problem) = permission_problems(&backend, &metadata, &record)?.into_iter().next() {
            return Err(StoreError::Insecure(problem));
        }
        let lock_path = metadata.join(LOCK_FILE);
        let lock = backend
            .try_lock(&lock_path)
            .map_err(io_error(IoStep::Lock, &lock_path))?
            .ok_or_else(|| StoreError::Locked { path: lock_path.clone() })?;

        let temp = metadata.join(TEMP_FILE);
        let mut removed_leftovers = Vec::new();
        if backend.remove(&temp).map_err(io_error(IoStep::Remove, &temp))? {
            removed_leftovers.push(temp.clone());
        }
        // A high-water copy cut short after its commit point: the record is already durable.
        let highest_temp = metadata.join(HIGHEST_TEMP_FILE);
        backend.remove(&highest_temp).map_err(io_error(IoStep::Remove, &highest_temp))?;
        // Make durable what is about to be read (P6-F2): a predecessor killed between its rename
        // and its directory fsync leaves a record only the page cache holds, which a power loss
        // could still undo after this controller acted on it. PostgreSQL likewise fsyncs its data
        // directory when crash recovery starts. Failure is final for this open.
        // Then the name of every directory this open created (P6-F2): a new directory is durable
        // only once the directory holding its entry is fsynced, and without it a power loss after
        // a successful bootstrap takes the whole data directory, authority and all, away.
        for dir in dirs_to_sync(&metadata, data_dir, &created) {
            backend.sync_dir(dir).map_err(io_error(IoStep::SyncDir, dir))?;
        }
        let slot = PromotionSlot::new();
        if !removed_leftovers.is_empty() {
            // A commit died mid-switch; the record on disk decides (P6-F2).
            slot.metrics().crash_abort();
            let cause =
                format!("{} temporary file(s) of an interrupted commit removed", removed_leftovers.len());
            observe::aborted_on_crash(AuthorityTransitioning::KIND.name(), None, &cause);
        }
        let store = FileAuthorityStore {
            backend,
            highest: metadata.join(HIGHEST_FILE),
            record,
            metadata,
            temp,
            report: OpenReport { created_metadata, removed_leftovers },
            poisoned: None,
            slot,
            last_read: Mutex::new(None),
            _lock: lock,
        };
        // The handle starts from the newest authority this store ever held (P6-A1): what it
        // loads from now on may not go back from it.
        let highest = load_from(&store.backend, &store.highest)?;
        store.slot.admit_loaded(highest.as_ref())?;
        // A commit killed between its commit point and its high-water copy: bring the copy up.
        if let Some(record) = load_from(&store.backend, &store.record)?
            && highest.as_ref().is_none_or(|h| record.epoch() > h.epoch())
        {
            store.write_highest(&record)?;
        }
        Ok(store)
    }

    /// What opening found.
    pub fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// `<data-dir>/metadata/authority.record`.
    pub fn record_path(&self) -> &Path {
        &self.record
    }

    /// The backend, for tests that inspect what it did.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    fn check_usable(&self) -> Result<(), StoreError> {
        match &self.poisoned {
            Some(cause) => Err(StoreError::Poisoned(cause.clone())),
            None => Ok(()),
        }
    }

    /// temp write → fsync → rename over the record → fsync directory. Stops at the first error.
    fn write_durably(&self, bytes: &[u8]) -> Result<(), StoreError> {
        self.replace(&self.temp, &self.record, bytes)
    }

    /// `bytes` to `target` through `temp`: write, fsync, rename, fsync the directory.
    fn replace(&self, temp: &Path, target: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let mut file = self.backend.create(temp).map_err(io_error(IoStep::CreateTemp, temp))?;
        self.backend.write_all(&mut file, bytes).map_err(io_error(IoStep::Write, temp))?;
        self.backend.sync(&mut file).map_err(io_error(IoStep::SyncFile, temp))?;
        drop(file);
        self.backend.rename(temp, target).map_err(io_error(IoStep::Rename, target))?;
        self.backend.sync_dir(&self.metadata).map_err(io_error(IoStep::SyncDir, &self.metadata))
    }

    /// Starts the authority over after a real loss — the operator's explicit command, never an
    /// automatic one (P6-A3): `primary` leads epoch `above + 1` from `start`, recorded with
    /// `reason`, its epoch beginning after `start` on the new primary's WAL. `above` must be at
    /// least every epoch this store ever held (its record and its high-water copy, as far as
    /// they can still be read: a lost or corrupt one counts as unknown, and the start-over rests
    /// on `above`) and should be at least every epoch any node reports (their marks, their
    /// timelines): the new authority then sorts above everything that was.
    /// Refused with [`StoreError::StartOver`] otherwise, or without a reason; nothing written.
    pub fn start_over(
        &mut self,
        primary: NodeId,
        above: Epoch,
        start: Lsn,
        reason: &str,
    ) -> Result<AuthorityRecord, StoreError> {
        self.check_usable()?;
        let held = [&self.record, &self.highest]
            .into_iter()
            .filter_map(|path| load_from(&self.backend, path).ok().flatten())
            .map(|r| r.epoch())
            .max();
        let record = start_over_record(primary, above, held, start, reason)?;
        self.remember(&record)?;
        Ok(record)
    }

    /// Makes `record` this directory's record without the commit rule: only a [`NodeMark`],
    /// after checking `record` is newer than what it holds, and an explicit start-over.
    ///
    /// [`NodeMark`]: crate::NodeMark
    pub(crate) fn remember(&mut self, record: &AuthorityRecord) -> Result<(), StoreError> {
        self.check_usable()?;
        // What this handle read before is not what it is about to write.
        *self.last_read.get_mut().unwrap_or_else(PoisonError::into_inner) = None;
        let bytes = codec::encode(record)?;
        self.write_durably(&bytes).inspect_err(|e| self.poisoned = Some(e.to_string()))?;
        self.slot.note_committed(record);
        self.write_highest(record).inspect_err(|e| self.poisoned = Some(e.to_string()))
    }

    /// The high-water copy of `record`, by the same durable replace as the record itself.
    fn write_highest(&self, record: &AuthorityRecord) -> Result<(), StoreError> {
        let highest_temp = self.metadata.join(HIGHEST_TEMP_FILE);
        self.replace(&highest_temp, &self.highest, &codec::encode(record)?)
    }
}

impl<B: Backend> AuthorityStore for FileAuthorityStore<B> {
    fn load(&self) -> Result<Option<AuthorityRecord>, StoreError> {
        self.check_usable()?;
        let record = load_from(&self.backend, &self.record)?;
        self.slot.admit_loaded(record.as_ref())?;
        *self.last_read.lock().unwrap_or_else(PoisonError::into_inner) = Some(record.clone());
        Ok(record)
    }

    fn commit(&mut self, proposal: &Proposal) -> Result<(), StoreError> {
        // One read per commit: the handle holds the store's lock, so what it last read (the
        // commit edge's stale-authority check reads just before) is what is on disk; only a
        // handle that has read nothing since its last write reads again (P6-A1).
        self.check_usable()?;
        let cached = self.last_read.get_mut().unwrap_or_else(PoisonError::into_inner).take();
        let current = match cached {
            Some(current) => current,
            None => self.load()?,
        };
        *self.last_read.get_mut().unwrap_or_else(PoisonError::into_inner) = None;
        check_commit(current.as_ref(), proposal)?;
        // Under the same lock, so the report compared is the report the commit lands beside.
        if proposal.report().is_some() {
            check_evidence(self.load_report()?.as_ref(), proposal)?;
        }
        let bytes = codec::encode(proposal.record())?;
        // An I/O error leaves the data's fate unknown: fatal for this handle, never retried (§5).
        self.write_durably(&bytes).inspect_err(|e| self.poisoned = Some(e.to_string()))?;
        self.slot.note_committed(proposal.record());
        // After the commit point the commit stands, whatever happens to the copy: an error here
        // is not retried and leaves the copy old or new — a lower bound either way, which the
        // next open brings up from the record — and the handle poisoned.
        if let Err(error) = self.write_highest(proposal.record()) {
            self.poisoned = Some(format!("the commit is durable, but its high-water copy failed: {error}"));
        }
        Ok(())
    }

    fn slot(&self) -> &PromotionSlot {
        &self.slot
    }

    fn load_report(&self) -> Result<Option<PrimaryReport>, StoreError> {
        self.check_usable()?;
        decode_from(&self.backend, &self.metadata.join(REPORT_FILE), codec::decode_report)
    }

    fn swap_report(
        &mut self,
        expected: Option<&PrimaryReport>,
        report: &PrimaryReport,
    ) -> Result<(), StoreError> {
        // Under the handle's lock, so the compare and the write are one step (P6-A1).
        let authority = self.load()?;
        let current = self.load_report()?;
        check_report(authority.as_ref(), current.as_ref(), expected, report)?;
        let bytes = codec::encode_report(report)?;
        let (temp, target) = (self.metadata.join(REPORT_TEMP_FILE), self.metadata.join(REPORT_FILE));
        // As for a commit: an I/O error leaves the write's fate unknown, fatal for the handle.
        self.replace(&temp, &target, &bytes).inspect_err(|e| self.poisoned = Some(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use aerodb_core::{Lsn, WalPosition};

    use super::*;
    use crate::record::{Force, PastAuthority, RecordBody};

    fn node(name: &str) -> NodeId {
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
    fn second(primary: &str, start: u64, first: &str, first_by: Option<RequestSummary>) -> AuthorityRecord {
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

    /// The compare-and-swap reuses the handle's last read only while the handle has written
    /// nothing since: a stale proposal after a start-over is compared against the started-over
    /// record and refused, never written over it.
    #[test]
    fn a_commit_after_a_start_over_compares_against_what_was_written() {
        let dir = std::env::temp_dir().join(format!("aerodb-last-read-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut store = FileAuthorityStore::open(&dir).unwrap();
        let first = store.bootstrap(node("a")).unwrap();
        assert_eq!(store.load().unwrap().as_ref(), Some(&first));
        let restarted = store.start_over(node("c"), Epoch::new(5), Lsn::new(0), "lost").unwrap();
        let stale = Proposal::new(Some(first), second("b", 10, "a", None));
        assert!(matches!(store.commit(&stale), Err(StoreError::Conflict(_))), "written over a start-over");
        assert_eq!(store.load().unwrap(), Some(restarted));
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
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

    /// mkdir(2) as a scripted sequence of answers, recording each call; nothing else is used.
    struct ScriptedMkdir(
        std::cell::RefCell<Vec<(PathBuf, std::io::Result<bool>)>>,
        std::cell::RefCell<Vec<PathBuf>>,
    );

    impl Backend for ScriptedMkdir {
        type File = ();
        type Lock = ();
        fn create_dir(&self, path: &Path) -> std::io::Result<bool> {
            self.1.borrow_mut().push(path.to_owned());
            let (expected, answer) = self.0.borrow_mut().remove(0);
            assert_eq!(path, expected);
            answer
        }
        fn ownership(&self, _: &Path) -> std::io::Result<Option<Ownership>> {
            unreachable!()
        }
        fn effective_uid(&self) -> u32 {
            unreachable!()
        }
        fn try_lock(&self, _: &Path) -> std::io::Result<Option<()>> {
            unreachable!()
        }
        fn read(&self, _: &Path, _: u64) -> std::io::Result<Option<Vec<u8>>> {
            unreachable!()
        }
        fn create(&self, _: &Path) -> std::io::Result<()> {
            unreachable!()
        }
        fn write_all(&self, _: &mut (), _: &[u8]) -> std::io::Result<()> {
            unreachable!()
        }
        fn sync(&self, _: &mut ()) -> std::io::Result<()> {
            unreachable!()
        }
        fn rename(&self, _: &Path, _: &Path) -> std::io::Result<()> {
            unreachable!()
        }
        fn sync_dir(&self, _: &Path) -> std::io::Result<()> {
            unreachable!()
        }
        fn remove(&self, _: &Path) -> std::io::Result<bool> {
            unreachable!()
        }
    }

    /// A parent found missing and then created by another process before this open's mkdir
    /// still counts as created (its name may not be durable yet), and the walk goes on down.
    #[test]
    fn a_parent_created_concurrently_still_counts_as_created() {
        let (metadata, data) = (PathBuf::from("/srv/d/metadata"), PathBuf::from("/srv/d"));
        let missing = || Err(std::io::Error::from(std::io::ErrorKind::NotFound));
        let backend = ScriptedMkdir(
            vec![(metadata.clone(), missing()), (data.clone(), Ok(false)), (metadata.clone(), Ok(true))]
                .into(),
            Vec::new().into(),
        );
        assert_eq!(create_dirs(&backend, &metadata).unwrap(), [metadata.clone(), data.clone()]);
        assert_eq!(*backend.1.borrow(), [metadata.clone(), data, metadata.clone()]);
        let existing = ScriptedMkdir(vec![(metadata.clone(), Ok(false))].into(), Vec::new().into());
        assert_eq!(create_dirs(&existing, &metadata).unwrap(), Vec::<PathBuf>::new());
    }

    /// `metadata/` and the data directory always; then each created directory's parent once,
    /// innermost first; a relative path's empty parent is the working directory.
    #[test]
    fn open_fsyncs_the_parent_of_every_directory_it_created() {
        let (metadata, data) = (Path::new("a/b/metadata"), Path::new("a/b"));
        let created = [metadata.to_owned(), data.to_owned(), PathBuf::from("a")];
        let dirs = dirs_to_sync(metadata, data, &created);
        assert_eq!(dirs, [metadata, data, Path::new("a"), Path::new(".")]);
        assert_eq!(dirs_to_sync(metadata, data, &[]), [metadata, data], "nothing created");
        let absolute = [PathBuf::from("/srv/d/metadata"), PathBuf::from("/srv/d")];
        let dirs = dirs_to_sync(&absolute[0], &absolute[1], &absolute);
        assert_eq!(dirs, [Path::new("/srv/d/metadata"), Path::new("/srv/d"), Path::new("/srv")]);
    }
}
