//! The file store's I/O seam: the few operations it performs, so tests can substitute a faulty
//! or recording backend. [`StdBackend`] is the real one; calls are static, no dynamic dispatch.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::Path;

/// The operations a [`FileAuthorityStore`](crate::FileAuthorityStore) performs.
///
/// A file written with [`create`](Self::create) is synced through the same handle: after a
/// writeback error only the handles open at the time are guaranteed to see it.
pub trait Backend {
    /// An open file being written.
    type File;
    /// A held exclusive lock; released when dropped or when the process dies.
    type Lock;

    /// Creates directory `path` (and missing parents); `true` if `path` itself was created.
    fn create_dir(&self, path: &Path) -> io::Result<bool>;
    /// Takes the exclusive lock on file `path` (created if missing); `None` if another holder has it.
    fn try_lock(&self, path: &Path) -> io::Result<Option<Self::Lock>>;
    /// Reads at most `limit` bytes of `path`; `None` if it does not exist.
    fn read(&self, path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>>;
    /// Creates or truncates `path` for writing.
    fn create(&self, path: &Path) -> io::Result<Self::File>;
    /// Writes all of `bytes`.
    fn write_all(&self, file: &mut Self::File, bytes: &[u8]) -> io::Result<()>;
    /// Flushes the file's data and metadata to stable storage (fsync).
    fn sync(&self, file: &mut Self::File) -> io::Result<()>;
    /// Atomically replaces `to` with `from`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Flushes directory `path`'s entries to stable storage (fsync of the directory).
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Removes file `path`; `false` if it did not exist.
    fn remove(&self, path: &Path) -> io::Result<bool>;
}

/// The real backend: `std::fs`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdBackend;

impl Backend for StdBackend {
    type File = File;
    type Lock = File;

    fn create_dir(&self, path: &Path) -> io::Result<bool> {
        match fs::create_dir(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent)?;
                }
                fs::create_dir(path).map(|()| true)
            }
            Err(e) => Err(e),
        }
    }

    fn try_lock(&self, path: &Path) -> io::Result<Option<File>> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    fn read(&self, path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut bytes = Vec::new();
        file.take(limit).read_to_end(&mut bytes)?;
        Ok(Some(bytes))
    }

    fn create(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new().write(true).create(true).truncate(true).open(path)
    }

    fn write_all(&self, file: &mut File, bytes: &[u8]) -> io::Result<()> {
        file.write_all(bytes)
    }

    fn sync(&self, file: &mut File) -> io::Result<()> {
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }

    fn remove(&self, path: &Path) -> io::Result<bool> {
        match fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}
