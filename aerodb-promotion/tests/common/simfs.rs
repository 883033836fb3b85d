//! An in-memory file system following the POSIX persistence model, for crash-state enumeration
//! in the style of ALICE / CrashMonkey.
//!
//! - File data is durable only after `fsync` of that file; before, a crash may keep none, part
//!   (half of the unsynced bytes) or all of it.
//! - Directory entries (create, rename, unlink) are durable only after `fsync` of the directory;
//!   before, a crash may persist any subset of them. A rename is two entry operations (link
//!   the new name, unlink the old), so the weak states — both names present, or neither — occur.
//!
//! Every operation records a snapshot of the model; [`crash_states`] lists what the disk may
//! hold after a crash at that point. Flags drop the file or directory fsync, to prove the
//! enumeration finds the violations of a broken protocol, fail directory fsyncs, or kill the
//! process right after a rename. Clones share one disk (one kernel's page cache), so a second
//! store handle opened on a clone is a successor process on the same machine.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;
use std::rc::Rc;

use aerodb_promotion::{Backend, DIR_MODE, FILE_MODE, Ownership};

#[derive(Debug, Clone, Default)]
struct Inode {
    durable: Vec<u8>,
    volatile: Vec<u8>,
}

#[derive(Debug, Clone)]
enum DirOp {
    Link(String, usize),
    Unlink(String),
}

/// The file system at one instant.
#[derive(Debug, Clone, Default)]
pub struct Model {
    inodes: Vec<Inode>,
    durable: BTreeMap<String, usize>,
    volatile: BTreeMap<String, usize>,
    pending: Vec<DirOp>,
}

/// What a disk may hold after a crash: file name → contents.
pub type DiskState = BTreeMap<String, Vec<u8>>;

/// The model as a [`Backend`]. One directory: files are keyed by name.
#[derive(Default, Clone)]
pub struct SimFs {
    model: Rc<RefCell<Model>>,
    snapshots: Rc<RefCell<Vec<(String, Model)>>>,
    /// Broken protocol: `fsync` of a file does nothing.
    pub skip_file_sync: Rc<Cell<bool>>,
    /// Broken protocol: `fsync` of a directory does nothing.
    pub skip_dir_sync: Rc<Cell<bool>>,
    /// The next this many directory fsyncs fail with EIO, making nothing durable.
    pub fail_dir_syncs: Rc<Cell<usize>>,
    /// The process dies right after its next rename: every later operation fails, changing
    /// nothing, until [`SimFs::revive`] (a new process).
    pub die_after_rename: Rc<Cell<bool>>,
    dead: Rc<Cell<bool>>,
}

fn name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
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

    fn create_dir(&self, _path: &Path) -> io::Result<bool> {
        Ok(false)
    }
    fn ownership(&self, path: &Path) -> io::Result<Option<Ownership>> {
        // One directory owned by this process; its files as the store creates them.
        let is_file = path.extension().is_some();
        let exists = !is_file || self.model.borrow().volatile.contains_key(&name(path));
        let mode = if is_file { FILE_MODE } else { DIR_MODE };
        Ok(exists.then_some(Ownership { mode, uid: 0 }))
    }
    fn effective_uid(&self) -> u32 {
        0
    }
    fn try_lock(&self, _path: &Path) -> io::Result<Option<()>> {
        Ok(Some(()))
    }
    fn read(&self, path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
        let model = self.model.borrow();
        Ok(model.volatile.get(&name(path)).map(|&ino| {
            let data = &model.inodes[ino].volatile;
            data[..data.len().min(limit as usize)].to_vec()
        }))
    }
    fn create(&self, path: &Path) -> io::Result<usize> {
        self.apply("create", |m| {
            let ino = m.inodes.len();
            m.inodes.push(Inode::default());
            m.volatile.insert(name(path), ino);
            m.pending.push(DirOp::Link(name(path), ino));
            Ok(ino)
        })
    }
    fn write_all(&self, file: &mut usize, bytes: &[u8]) -> io::Result<()> {
        self.apply("write", |m| {
            m.inodes[*file].volatile.extend_from_slice(bytes);
            Ok(())
        })
    }
    fn sync(&self, file: &mut usize) -> io::Result<()> {
        let skip = self.skip_file_sync.get();
        self.apply("fsync file", |m| {
            if !skip {
                let inode = &mut m.inodes[*file];
                inode.durable = inode.volatile.clone();
            }
            Ok(())
        })
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.apply("rename", |m| {
            let ino =
                m.volatile.remove(&name(from)).ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
            m.volatile.insert(name(to), ino);
            m.pending.push(DirOp::Link(name(to), ino));
            m.pending.push(DirOp::Unlink(name(from)));
            Ok(())
        })?;
        if self.die_after_rename.get() {
            self.dead.set(true);
        }
        Ok(())
    }
    fn sync_dir(&self, _path: &Path) -> io::Result<()> {
        let skip = self.skip_dir_sync.get();
        let fail = self.fail_dir_syncs.get();
        if fail > 0 && !self.dead.get() {
            self.fail_dir_syncs.set(fail - 1);
            return self.apply("fsync dir (EIO)", |_| Err(io::Error::from_raw_os_error(5)));
        }
        self.apply("fsync dir", |m| {
            if !skip {
                m.durable = m.volatile.clone();
                m.pending.clear();
            }
            Ok(())
        })
    }
    fn remove(&self, path: &Path) -> io::Result<bool> {
        self.apply("remove", |m| {
            let existed = m.volatile.remove(&name(path)).is_some();
            if existed {
                m.pending.push(DirOp::Unlink(name(path)));
            }
            Ok(existed)
        })
    }
}

/// Every disk state the persistence model allows after a crash in state `m`.
pub fn crash_states(m: &Model) -> BTreeSet<DiskState> {
    let mut states = BTreeSet::new();
    for mask in 0u32..(1 << m.pending.len()) {
        let mut dir = m.durable.clone();
        for (i, op) in m.pending.iter().enumerate() {
            if mask & (1 << i) != 0 {
                match op {
                    DirOp::Link(name, ino) => {
                        dir.insert(name.clone(), *ino);
                    }
                    DirOp::Unlink(name) => {
                        dir.remove(name);
                    }
                }
            }
        }
        // Each file's data: durable, durable plus half of what was not synced, or all of it.
        let mut partial: Vec<DiskState> = vec![DiskState::new()];
        for (name, &ino) in &dir {
            let inode = &m.inodes[ino];
            let unsynced = &inode.volatile[inode.durable.len().min(inode.volatile.len())..];
            let mut options = vec![inode.durable.clone()];
            if !unsynced.is_empty() {
                let mut half = inode.durable.clone();
                half.extend_from_slice(&unsynced[..unsynced.len() / 2]);
                options.push(half);
                options.push(inode.volatile.clone());
            }
            partial = partial
                .into_iter()
                .flat_map(|state| {
                    options.iter().map(move |data| {
                        let mut next = state.clone();
                        next.insert(name.clone(), data.clone());
                        next
                    })
                })
                .collect();
        }
        states.extend(partial);
    }
    states
}
