//! The file store's I/O seam: the few operations it performs, so tests can substitute a faulty
//! or recording backend. [`StdBackend`] is the real one; calls are static, no dynamic dispatch.

use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Mode of every directory the store creates: only the owner may enter, list or change it.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file the store creates: only the owner may read or write it.
pub const FILE_MODE: u32 = 0o600;

/// Who owns a file and its permission bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ownership {
    /// The permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// The owner's uid.
    pub uid: u32,
}

/// The operations a [`FileAuthorityStore`](crate::FileAuthorityStore) performs.
///
/// A file written with [`create`](Self::create) is synced through the same handle: after a
/// writeback error only the handles open at the time are guaranteed to see it.
pub trait Backend {
    /// An open file being written.
    type File;
    /// A held exclusive lock; released when dropped or when the process dies.
    type Lock;

    /// Creates the one directory `path` with mode [`DIR_MODE`], whatever the umask, like
    /// mkdir(2): `true` if it was created, `false` if it existed, an error of kind
    /// [`NotFound`](io::ErrorKind::NotFound) if its parent does not exist. Never creates a
    /// parent: the store creates missing ones itself, one at a time, so that it knows every
    /// directory it created and fsyncs each one's parent (P6-F2).
    fn create_dir(&self, path: &Path) -> io::Result<bool>;
    /// The owner and mode of `path`; `None` if it does not exist.
    fn ownership(&self, path: &Path) -> io::Result<Option<Ownership>>;
    /// The effective uid of this process: the only owner the store accepts.
    fn effective_uid(&self) -> u32;
    /// Takes the exclusive lock on file `path` (created with [`FILE_MODE`] if missing); `None`
    /// if another holder has it.
    fn try_lock(&self, path: &Path) -> io::Result<Option<Self::Lock>>;
    /// Reads at most `limit` bytes of `path`; `None` if it does not exist.
    fn read(&self, path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>>;
    /// Creates (with [`FILE_MODE`]) or truncates `path` for writing.
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
        // The mode is set by mkdir itself: 0700 has no bits a umask could add, none to chmod later.
        match DirBuilder::new().mode(DIR_MODE).create(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn ownership(&self, path: &Path) -> io::Result<Option<Ownership>> {
        match fs::metadata(path) {
            Ok(meta) => Ok(Some(Ownership { mode: meta.mode() & 0o7777, uid: meta.uid() })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn effective_uid(&self) -> u32 {
        rustix::process::geteuid().as_raw()
    }

    fn try_lock(&self, path: &Path) -> io::Result<Option<File>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(path)?;
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
        OpenOptions::new().write(true).create(true).truncate(true).mode(FILE_MODE).open(path)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// P6-F1: only a missing path is "absent"; any other failure (here a path through a plain
    /// file) is an error, never read as "no record" or "no permission problem".
    #[test]
    fn only_a_missing_path_is_absent() {
        let dir = std::env::temp_dir().join(format!("aerodb-io-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("plain-file");
        fs::write(&file, b"x").unwrap();
        let through_file = file.join("child");
        assert_eq!(StdBackend.read(&dir.join("missing"), 10).unwrap(), None);
        assert!(StdBackend.read(&through_file, 10).is_err());
        assert_eq!(StdBackend.ownership(&dir.join("missing")).unwrap(), None);
        assert!(StdBackend.ownership(&through_file).is_err());
        assert!(!StdBackend.remove(&dir.join("missing")).unwrap());
        assert!(StdBackend.remove(&through_file).is_err());
        let error = StdBackend.create_dir(&through_file).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(20), "ENOTDIR, the cause an operator reads: {error}");
        // One directory at a time: a missing parent is NotFound, never created.
        let nested = dir.join("missing").join("child");
        let error = StdBackend.create_dir(&nested).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound, "{error}");
        assert!(!dir.join("missing").exists(), "no parent is created");
        assert!(StdBackend.create_dir(&dir.join("missing")).unwrap());
        assert!(!StdBackend.create_dir(&dir.join("missing")).unwrap(), "an existing directory: false");
        fs::remove_dir_all(&dir).unwrap();
    }
}
