//! The file store: one data directory's authority, its I/O steps, permissions and file names,
//! and the readers inspection tools use (§9, P6-A2, P6-F2).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use aerodb_core::{Epoch, Lsn, NodeId};

use crate::codec::{self, DecodeError};
use crate::evidence::PrimaryReport;
pub use crate::io::{Backend, DIR_MODE, FILE_MODE, Ownership, StdBackend};
use crate::record::AuthorityRecord;
use crate::slot::PromotionSlot;
use crate::states::{AuthorityTransitioning, PromotionState};
use crate::store::{
    AuthorityStore, IoStep, Location, PermissionProblem, Poison, Proposal, StoreError, check_commit,
    check_evidence, check_report, start_over_record,
};
use crate::telemetry;

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
        .map_err(|error| StoreError::Corrupt { location: Location::path(path), error })
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
/// Maps an OS error at `step` on `path` into a [`StoreError::Io`].
fn io_error(step: IoStep, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let location = Location::path(path);
    move |e| StoreError::Io { step, location, error: Arc::new(e) }
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
    poisoned: Poison,
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
            .ok_or_else(|| StoreError::Locked { location: Location::path(&lock_path) })?;

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
            telemetry::aborted_on_crash(AuthorityTransitioning::KIND.name(), None, &cause);
        }
        let store = FileAuthorityStore {
            backend,
            highest: metadata.join(HIGHEST_FILE),
            record,
            metadata,
            temp,
            report: OpenReport { created_metadata, removed_leftovers },
            poisoned: Poison::new(),
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
        self.poisoned.check()
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
        self.write_durably(&bytes).inspect_err(|e| self.poisoned.set(e.to_string()))?;
        self.slot.note_committed(record);
        self.write_highest(record).inspect_err(|e| self.poisoned.set(e.to_string()))
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
        self.write_durably(&bytes).inspect_err(|e| self.poisoned.set(e.to_string()))?;
        self.slot.note_committed(proposal.record());
        // After the commit point the commit stands, whatever happens to the copy: an error here
        // is not retried and leaves the copy old or new — a lower bound either way, which the
        // next open brings up from the record — and the handle poisoned.
        if let Err(error) = self.write_highest(proposal.record()) {
            self.poisoned.set(format!("the commit is durable, but its high-water copy failed: {error}"));
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
        self.replace(&temp, &target, &bytes).inspect_err(|e| self.poisoned.set(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use aerodb_core::{Epoch, Lsn};

    use super::*;
    use crate::store::tests::{node, second};

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
