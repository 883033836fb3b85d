//! Crashes a child controller at each promotion boundary and shows what recovery finds.
//!
//! ```sh
//! cargo run --example crash_recovery
//! ```
//! For each boundary, a fresh data directory at epoch 1 (primary `node-0`) is handed to a child
//! process of this example, which promotes `node-1` and is killed (SIGKILL) at that boundary —
//! inside the commit, right after the chosen I/O step. The parent then opens the directory as a
//! new controller would. Before the rename the old authority stands; from the rename on, the new
//! one; never anything else (§2, P6-F2). Unix only (it kills with `kill -KILL`).

use std::cell::Cell;
use std::fs::File;
use std::io;
use std::path::Path;
use std::process::{Command, ExitCode};

use aerodb::core::NodeId;
use aerodb::promotion::file_store::{Backend, Ownership, StdBackend};
use aerodb::promotion::testing::caught_up_inputs;
use aerodb::promotion::{
    AuthorityStore, Decision, FileAuthorityStore, PromotionPolicy, PromotionRequest, recover,
};

/// Where the child dies: a typestate boundary, or right after I/O step `n` of the commit.
const BOUNDARIES: [(&str, Crash); 9] = [
    ("in PromotionRequested (before validation)", Crash::State(0)),
    ("in PromotionValidating (during validation)", Crash::State(1)),
    ("in PromotionApproved (after approval, before the switch)", Crash::State(2)),
    ("in the switch, after creating the temporary file", Crash::AfterIo(1)),
    ("in the switch, after writing it", Crash::AfterIo(2)),
    ("in the switch, after its fsync", Crash::AfterIo(3)),
    ("in the switch, after the rename over the record", Crash::AfterIo(4)),
    ("in the switch, after the directory fsync", Crash::AfterIo(5)),
    ("in PromotionSucceeded (after the switch)", Crash::State(3)),
];

#[derive(Clone, Copy)]
enum Crash {
    State(u8),
    AfterIo(usize),
}

fn die() -> ! {
    let _ = Command::new("kill").args(["-KILL", &std::process::id().to_string()]).status();
    std::process::abort()
}

/// The real backend, killing the process right after commit I/O step `after` (counted from arming).
struct KillAfter {
    after: Option<usize>,
    armed: Cell<bool>,
    ops: Cell<usize>,
}

impl KillAfter {
    fn step<T>(&self, result: io::Result<T>) -> io::Result<T> {
        if self.armed.get() {
            let op = self.ops.get();
            self.ops.set(op + 1);
            if Some(op) == self.after {
                die();
            }
        }
        result
    }
}

impl Backend for KillAfter {
    type File = File;
    type Lock = File;
    fn create_dir(&self, path: &Path) -> io::Result<bool> {
        self.step(StdBackend.create_dir(path))
    }
    fn ownership(&self, path: &Path) -> io::Result<Option<Ownership>> {
        self.step(StdBackend.ownership(path))
    }
    fn effective_uid(&self) -> u32 {
        StdBackend.effective_uid()
    }
    fn try_lock(&self, path: &Path) -> io::Result<Option<File>> {
        self.step(StdBackend.try_lock(path))
    }
    fn read(&self, path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
        self.step(StdBackend.read(path, limit))
    }
    fn create(&self, path: &Path) -> io::Result<File> {
        self.step(StdBackend.create(path))
    }
    fn write_all(&self, file: &mut File, bytes: &[u8]) -> io::Result<()> {
        self.step(StdBackend.write_all(file, bytes))
    }
    fn sync(&self, file: &mut File) -> io::Result<()> {
        self.step(StdBackend.sync(file))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.step(StdBackend.rename(from, to))
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.step(StdBackend.sync_dir(path))
    }
    fn remove(&self, path: &Path) -> io::Result<bool> {
        self.step(StdBackend.remove(path))
    }
}

/// The child: promote node-1 and die at `crash`.
fn child(index: usize, dir: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (_, crash) = BOUNDARIES.get(index).ok_or("no such boundary")?;
    let after = match crash {
        Crash::AfterIo(n) => Some(*n),
        Crash::State(_) => None,
    };
    let at_state = |n: u8| matches!(crash, Crash::State(s) if *s == n);
    let backend = KillAfter { after, armed: Cell::new(false), ops: Cell::new(0) };
    let mut store = FileAuthorityStore::open_with(backend, dir)?;
    let current = recover(&store)?.authority.ok_or("no authority")?;
    let inputs = caught_up_inputs(&current, NodeId::new("node-1")?, 100);
    let requested = recover(&store)?.steady.request(PromotionRequest::builder("node-1").build()?);
    if at_state(0) {
        die();
    }
    let validating = requested.begin_validation(PromotionPolicy::Enabled, &inputs)?;
    if at_state(1) {
        die();
    }
    let Decision::Approved(approved) = validating.decide(&inputs) else { return Err("denied".into()) };
    if at_state(2) {
        die();
    }
    let transitioning = approved.begin_transition();
    store.backend().armed.set(true);
    let succeeded = transitioning.commit(&mut store)?;
    if at_state(3) {
        die();
    }
    let _ = succeeded.complete();
    Err("the child was meant to die before completing".into())
}

/// Kills a child controller at each promotion boundary and shows what recovery finds.
#[derive(clap::Parser)]
struct Args {
    /// (internal) run as the child that promotes in DIR and dies at boundary INDEX.
    #[arg(long, num_args = 2, value_names = ["INDEX", "DIR"], hide = true)]
    child: Option<Vec<String>>,
}

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    let result = match args.child.as_deref() {
        Some([index, dir]) => index.parse().map_err(Into::into).and_then(|i| child(i, dir)),
        Some(_) => Err("--child takes INDEX and DIR".into()),
        None => parent(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("crash_recovery: {error}");
            ExitCode::FAILURE
        }
    }
}

fn parent() -> Result<(), Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let temporary = tempfile::tempdir()?;
    let root = temporary.path();
    println!("Crashing a controller at every promotion boundary (node-0 at epoch 1 → node-1)\n");
    for (index, (boundary, crash)) in BOUNDARIES.iter().enumerate() {
        let dir = root.join(index.to_string());
        FileAuthorityStore::open(&dir)?.bootstrap(NodeId::new("node-0")?)?;
        let status = Command::new(&exe).args(["--child", &index.to_string()]).arg(&dir).status()?;
        if status.success() {
            return Err(format!("the child survived {boundary}").into());
        }
        let store = FileAuthorityStore::open(&dir)?;
        let leftovers = store.open_report().removed_leftovers.len();
        let record = recover(&store)?.authority.ok_or("recovery found no authority")?;
        let expected_new = matches!(crash, Crash::AfterIo(n) if *n >= 4) || matches!(crash, Crash::State(3));
        let outcome = if record.epoch().get() == 2 { "NEW authority" } else { "OLD authority" };
        println!("killed {boundary}");
        println!(
            "   recovery: {outcome}: epoch {}, primary {}; crash leftovers removed: {leftovers}",
            record.epoch(),
            record.primary()
        );
        if (record.epoch().get() == 2) != expected_new {
            return Err(format!("unexpected recovery after a crash {boundary}").into());
        }
    }
    println!("\nEvery crash recovered to exactly the old or the new authority.");
    Ok(())
}
