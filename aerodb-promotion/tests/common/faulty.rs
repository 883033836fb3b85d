//! The real std backend with one injected fault at operation `k` (counted from arming), once or
//! persisting for every later operation, as SQLite's I/O-error tests do.

use std::cell::Cell;
use std::fs::File;
use std::io;
use std::path::Path;

use aerodb_promotion::file_store::{Backend, Ownership, StdBackend};

/// What the injected fault looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// EIO.
    Eio,
    /// ENOSPC.
    NoSpace,
    /// A write that stores half its bytes, then fails (other operations: EIO).
    ShortWrite,
}

impl FaultKind {
    pub const ALL: [FaultKind; 3] = [FaultKind::Eio, FaultKind::NoSpace, FaultKind::ShortWrite];

    fn error(self) -> io::Error {
        match self {
            FaultKind::Eio => io::Error::from_raw_os_error(5),
            FaultKind::NoSpace => io::Error::from_raw_os_error(28),
            FaultKind::ShortWrite => io::Error::new(io::ErrorKind::WriteZero, "short write"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub at: usize,
    pub persistent: bool,
    pub kind: FaultKind,
}

/// Std I/O with a planned fault. Unarmed it is exactly [`StdBackend`].
#[derive(Default)]
pub struct Faulty {
    plan: Cell<Option<Plan>>,
    ops: Cell<usize>,
    hit: Cell<bool>,
}

impl Faulty {
    pub fn armed(plan: Plan) -> Self {
        Faulty { plan: Cell::new(Some(plan)), ..Faulty::default() }
    }

    /// Starts counting operations from zero with `plan`.
    pub fn arm(&self, plan: Plan) {
        self.plan.set(Some(plan));
        self.ops.set(0);
        self.hit.set(false);
    }

    /// Whether the fault fired.
    pub fn hit(&self) -> bool {
        self.hit.get()
    }

    /// Operations counted since arming.
    pub fn ops(&self) -> usize {
        self.ops.get()
    }

    /// `Err` if this operation is to fail.
    fn step(&self) -> Result<(), FaultKind> {
        let index = self.ops.get();
        self.ops.set(index + 1);
        match self.plan.get() {
            Some(plan) if index == plan.at || (plan.persistent && index > plan.at) => {
                self.hit.set(true);
                Err(plan.kind)
            }
            _ => Ok(()),
        }
    }

    fn check(&self) -> io::Result<()> {
        self.step().map_err(FaultKind::error)
    }
}

impl Backend for Faulty {
    type File = File;
    type Lock = File;

    fn create_dir(&self, path: &Path) -> io::Result<bool> {
        self.check()?;
        StdBackend.create_dir(path)
    }
    fn ownership(&self, path: &Path) -> io::Result<Option<Ownership>> {
        self.check()?;
        StdBackend.ownership(path)
    }
    fn effective_uid(&self) -> u32 {
        StdBackend.effective_uid()
    }
    fn try_lock(&self, path: &Path) -> io::Result<Option<File>> {
        self.check()?;
        StdBackend.try_lock(path)
    }
    fn read(&self, path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
        self.check()?;
        StdBackend.read(path, limit)
    }
    fn create(&self, path: &Path) -> io::Result<File> {
        self.check()?;
        StdBackend.create(path)
    }
    fn write_all(&self, file: &mut File, bytes: &[u8]) -> io::Result<()> {
        match self.step() {
            Ok(()) => StdBackend.write_all(file, bytes),
            Err(FaultKind::ShortWrite) => {
                StdBackend.write_all(file, &bytes[..bytes.len() / 2])?;
                Err(FaultKind::ShortWrite.error())
            }
            Err(kind) => Err(kind.error()),
        }
    }
    fn sync(&self, file: &mut File) -> io::Result<()> {
        self.check()?;
        StdBackend.sync(file)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check()?;
        StdBackend.rename(from, to)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.check()?;
        StdBackend.sync_dir(path)
    }
    fn remove(&self, path: &Path) -> io::Result<bool> {
        self.check()?;
        StdBackend.remove(path)
    }
}
