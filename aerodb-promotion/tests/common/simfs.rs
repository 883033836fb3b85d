//! An in-memory file system following the POSIX persistence model, for crash-state enumeration
//! in the style of ALICE / CrashMonkey.
//!
//! - File data is durable only after `fsync` of that file; before, a crash may keep none, part
//!   (half of the unsynced bytes) or all of it.
//! - Directory entries (mkdir, create, rename, unlink) are durable only after `fsync` of the
//!   directory that holds them; before, a crash may persist any subset of them. A rename is two
//!   entry operations (link the new name, unlink the old), so the weak states — both names
//!   present, or neither — occur. A directory whose own entry in its parent is lost takes
//!   everything below it along, however durable its own entries are: fsyncing a new directory
//!   does not make its name durable, only fsyncing its parent does.
//!
//! Paths are absolute; `/` always exists. Every operation records a snapshot of the model;
//! [`crash_states`] lists what the disk may hold after a crash at that point. Flags drop the
//! file or directory fsync, to prove the enumeration finds the violations of a broken protocol,
//! fail directory fsyncs, or kill the process right after a rename. Clones share one disk (one
//! kernel's page cache), so a second store handle opened on a clone is a successor process on
//! the same machine.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;
use std::rc::Rc;

use aerodb_promotion::file_store::{Backend, DIR_MODE, FILE_MODE, Ownership};

#[derive(Debug, Clone)]
enum Inode {
    Dir,
    File { durable: Vec<u8>, volatile: Vec<u8> },
}

#[derive(Debug, Clone)]
enum DirOp {
    Link(String, usize),
    Unlink(String),
}

impl DirOp {
    fn path(&self) -> &str {
        match self {
            DirOp::Link(path, _) | DirOp::Unlink(path) => path,
        }
    }
}

/// The file system at one instant. Directory entries are keyed by their full path.
#[derive(Debug, Clone, Default)]
pub struct Model {
    inodes: Vec<Inode>,
    durable: BTreeMap<String, usize>,
    volatile: BTreeMap<String, usize>,
    pending: Vec<DirOp>,
}

/// One entry of a disk after a crash.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Node {
    /// A directory.
    Dir,
    /// A file and its contents.
    File(Vec<u8>),
}

/// What a disk may hold after a crash: absolute path → entry (`/` itself not listed).
pub type DiskState = BTreeMap<String, Node>;

/// The model as a [`Backend`].
#[derive(Default, Clone)]
pub struct SimFs {
    model: Rc<RefCell<Model>>,
    snapshots: Rc<RefCell<Vec<(String, Model)>>>,
    /// Broken protocol: `fsync` of a file does nothing.
    pub skip_file_sync: Rc<Cell<bool>>,
    /// Broken protocol: `fsync` of a directory does nothing.
    pub skip_dir_sync: Rc<Cell<bool>>,
    /// Broken protocol: `fsync` of a directory that is not this one or below it does nothing
    /// (an open that fsyncs its data directory and `metadata/`, never their parents).
    pub skip_dir_sync_outside: Rc<RefCell<Option<String>>>,
    /// The next this many directory fsyncs fail with EIO, making nothing durable.
    pub fail_dir_syncs: Rc<Cell<usize>>,
    /// The process dies right after its next rename: every later operation fails, changing
    /// nothing, until [`SimFs::revive`] (a new process).
    pub die_after_rename: Rc<Cell<bool>>,
    dead: Rc<Cell<bool>>,
}

fn key(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// The directory holding entry `path`.
fn parent_of(path: &str) -> String {
    Path::new(path).parent().map(key).unwrap_or_default()
}

/// Whether `path` is `dir` or below it.
fn at_or_below(path: &str, dir: &str) -> bool {
    Path::new(path).starts_with(dir)
}

impl Model {
    /// Whether directory `path` exists now (`/` always does).
    fn is_dir(&self, path: &str) -> bool {
        path == "/" || self.volatile.get(path).is_some_and(|&ino| matches!(self.inodes[ino], Inode::Dir))
    }

    /// Links a new inode at `path`, whose parent directory must exist.
    fn link_new(&mut self, path: &str, inode: Inode) -> io::Result<usize> {
        if !self.is_dir(&parent_of(path)) {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        let ino = self.inodes.len();
        self.inodes.push(inode);
        self.volatile.insert(path.to_owned(), ino);
        self.pending.push(DirOp::Link(path.to_owned(), ino));
        Ok(ino)
    }

    fn file_mut(&mut self, ino: usize) -> (&mut Vec<u8>, &mut Vec<u8>) {
        match &mut self.inodes[ino] {
            Inode::File { durable, volatile } => (durable, volatile),
            Inode::Dir => panic!("inode {ino} is a directory"),
        }
    }
}

impl SimFs {
    /// Forgets the snapshots taken so far; the next ones start from the current model.
    pub fn start_recording(&self) {
        let model = self.model.borrow().clone();
        *self.snapshots.borrow_mut() = vec![("start".to_owned(), model)];
    }

    /// `(operation, model after it)` for every operation since recording started, the start included.
    pub fn snapshots(&self) -> Vec<(String, Model)> {
        self.snapshots.borrow().clone()
    }

    /// The disk as it is now, page cache included.
    pub fn current(&self) -> Model {
        self.model.borrow().clone()
    }

    /// A new process on the same machine: the killed one's operations stop failing.
    pub fn revive(&self) {
        self.dead.set(false);
        self.die_after_rename.set(false);
    }

    fn apply<T>(&self, op: &str, f: impl FnOnce(&mut Model) -> io::Result<T>) -> io::Result<T> {
        if self.dead.get() {
            return Err(io::Error::other("the process was killed"));
        }
        let result = f(&mut self.model.borrow_mut());
        self.snapshots.borrow_mut().push((op.to_owned(), self.model.borrow().clone()));
        result
    }
}

impl Backend for SimFs {
    type File = usize;
    type Lock = ();

    /// mkdir(2): the parent must exist.
    fn create_dir(&self, path: &Path) -> io::Result<bool> {
        let path = key(path);
        self.apply("mkdir", |m| {
            if m.volatile.contains_key(&path) || path == "/" {
                return Ok(false);
            }
            m.link_new(&path, Inode::Dir).map(|_| true)
        })
    }
    fn ownership(&self, path: &Path) -> io::Result<Option<Ownership>> {
        // Everything is owned by this process, created as the store creates it.
        let model = self.model.borrow();
        let path = key(path);
        Ok(match model.volatile.get(&path).map(|&ino| &model.inodes[ino]) {
            _ if path == "/" => Some(Ownership { mode: DIR_MODE, uid: 0 }),
            Some(Inode::Dir) => Some(Ownership { mode: DIR_MODE, uid: 0 }),
            Some(Inode::File { .. }) => Some(Ownership { mode: FILE_MODE, uid: 0 }),
            None => None,
        })
    }
    fn effective_uid(&self) -> u32 {
        0
    }
    fn try_lock(&self, path: &Path) -> io::Result<Option<()>> {
        // The lock file's entry is not modelled: what it holds never decides anything.
        let model = self.model.borrow();
        if !model.is_dir(&parent_of(&key(path))) {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        Ok(Some(()))
    }
    fn read(&self, path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
        let model = self.model.borrow();
        Ok(model.volatile.get(&key(path)).map(|&ino| match &model.inodes[ino] {
            Inode::File { volatile, .. } => volatile[..volatile.len().min(limit as usize)].to_vec(),
            Inode::Dir => panic!("read of a directory"),
        }))
    }
    fn create(&self, path: &Path) -> io::Result<usize> {
        let path = key(path);
        self.apply("create", |m| m.link_new(&path, Inode::File { durable: Vec::new(), volatile: Vec::new() }))
    }
    fn write_all(&self, file: &mut usize, bytes: &[u8]) -> io::Result<()> {
        self.apply("write", |m| {
            m.file_mut(*file).1.extend_from_slice(bytes);
            Ok(())
        })
    }
    fn sync(&self, file: &mut usize) -> io::Result<()> {
        let skip = self.skip_file_sync.get();
        self.apply("fsync file", |m| {
            if !skip {
                let (durable, volatile) = m.file_mut(*file);
                *durable = volatile.clone();
            }
            Ok(())
        })
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from, to) = (key(from), key(to));
        self.apply("rename", |m| {
            let ino = m.volatile.remove(&from).ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
            m.volatile.insert(to.clone(), ino);
            m.pending.push(DirOp::Link(to, ino));
            m.pending.push(DirOp::Unlink(from));
            Ok(())
        })?;
        if self.die_after_rename.get() {
            self.dead.set(true);
        }
        Ok(())
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let dir = key(path);
        let skip = self.skip_dir_sync.get()
            || self.skip_dir_sync_outside.borrow().as_deref().is_some_and(|kept| !at_or_below(&dir, kept));
        let fail = self.fail_dir_syncs.get();
        if fail > 0 && !self.dead.get() {
            self.fail_dir_syncs.set(fail - 1);
            return self.apply("fsync dir (EIO)", |_| Err(io::Error::from_raw_os_error(5)));
        }
        self.apply("fsync dir", |m| {
            if !m.is_dir(&dir) {
                return Err(io::Error::from(io::ErrorKind::NotFound));
            }
            if !skip {
                // This directory's entries become what they are now; other directories' stay pending.
                let in_dir = |path: &String| parent_of(path) == dir;
                m.durable.retain(|path, _| !in_dir(path));
                m.durable
                    .extend(m.volatile.iter().filter(|(path, _)| in_dir(path)).map(|(p, &i)| (p.clone(), i)));
                m.pending.retain(|op| parent_of(op.path()) != dir);
            }
            Ok(())
        })
    }
    fn remove(&self, path: &Path) -> io::Result<bool> {
        let path = key(path);
        self.apply("remove", |m| {
            let existed = m.volatile.remove(&path).is_some();
            if existed {
                m.pending.push(DirOp::Unlink(path));
            }
            Ok(existed)
        })
    }
}

/// Every disk state the persistence model allows after a crash in state `m`.
pub fn crash_states(m: &Model) -> BTreeSet<DiskState> {
    let mut states = BTreeSet::new();
    for mask in 0u32..(1 << m.pending.len()) {
        let mut entries = m.durable.clone();
        for (i, op) in m.pending.iter().enumerate() {
            if mask & (1 << i) != 0 {
                match op {
                    DirOp::Link(path, ino) => {
                        entries.insert(path.clone(), *ino);
                    }
                    DirOp::Unlink(path) => {
                        entries.remove(path);
                    }
                }
            }
        }
        // Only what is reachable from `/`: an entry whose directory lost its name is gone.
        let reachable = |path: &str| {
            Path::new(path).ancestors().skip(1).all(|dir| {
                let dir = key(dir);
                dir == "/" || entries.get(&dir).is_some_and(|&ino| matches!(m.inodes[ino], Inode::Dir))
            })
        };
        // Each file's data: durable, durable plus half of what was not synced, or all of it.
        let mut partial: Vec<DiskState> = vec![DiskState::new()];
        for (path, &ino) in entries.iter().filter(|(path, _)| reachable(path)) {
            let options = match &m.inodes[ino] {
                Inode::Dir => vec![Node::Dir],
                Inode::File { durable, volatile } => {
                    let unsynced = &volatile[durable.len().min(volatile.len())..];
                    let mut options = vec![Node::File(durable.clone())];
                    if !unsynced.is_empty() {
                        let mut half = durable.clone();
                        half.extend_from_slice(&unsynced[..unsynced.len() / 2]);
                        options.push(Node::File(half));
                        options.push(Node::File(volatile.clone()));
                    }
                    options
                }
            };
            partial = partial
                .into_iter()
                .flat_map(|state| {
                    options.iter().map(move |node| {
                        let mut next = state.clone();
                        next.insert(path.clone(), node.clone());
                        next
                    })
                })
                .collect();
        }
        states.extend(partial);
    }
    states
}
