//! SIGTERM and SIGINT sent to the `postgres_failover` example mid-run: the moment it exits, no
//! process of its servers is left and its temporary directory is gone; and the same after a
//! panic unwinds past a server and its directory. Ignored by
//! `cargo test --workspace` (it needs PostgreSQL); `.ci/run` runs it after `cargo test
//! --workspace` built the example:
//!
//! ```sh
//! cargo build --example postgres_failover && cargo test --test postgres_signals -- --ignored
//! ```

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aerodb_postgres::harness::{Programs, Site};
use aerodb_postgres::procs::{self, ProcessId};
use rustix::process::{Pid, Signal, kill_process};

/// How long the example may take to start its servers, or to exit once signalled.
const LIMIT: Duration = Duration::from_secs(120);

/// The pids of the processes whose command line mentions `dir` (the postmasters: `-D dir/pgN`).
fn mentioning(dir: &Path) -> Vec<Pid> {
    let needle = dir.as_os_str().as_encoded_bytes();
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()).and_then(Pid::from_raw)
        else {
            continue;
        };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else { continue };
        if cmdline.windows(needle.len()).any(|window| window == needle) {
            found.push(pid);
        }
    }
    found
}

#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn sigterm_mid_run_leaves_no_server_and_no_directory() {
    interrupted(Signal::TERM, 15, "== 2.");
}

#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn sigint_mid_run_leaves_no_server_and_no_directory() {
    interrupted(Signal::INT, 2, "== 2.");
}

/// While `initdb` runs (step 1): the server programs are stopped too.
#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn sigterm_during_initdb_leaves_no_program_and_no_directory() {
    interrupted(Signal::TERM, 15, "== 1.");
}

/// A panic unwinding past a running server and its temporary directory (as a failing test's
/// does) kills every process of it before the directory is removed.
#[test]
#[ignore = "needs PostgreSQL's server programs (Debian's postgresql package); .ci/run runs it"]
fn a_panic_leaves_no_server_and_no_directory() {
    let dir = tempfile::Builder::new().prefix("aerodb-pg-").tempdir().unwrap();
    let root = dir.path().to_owned();
    let site = Site::new(Programs::locate().unwrap_or_else(|e| panic!("{e}")), &root).unwrap();
    let mut server = site.initdb("pg1").unwrap_or_else(|e| panic!("{e}"));
    server.start().unwrap_or_else(|e| panic!("{e}"));
    let postmasters = mentioning(&root);
    assert_eq!(postmasters.len(), 1);
    let processes = procs::server_processes(postmasters[0]).unwrap();
    assert!(processes.len() > 1, "a running server has children: {processes:?}");

    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _dir = dir;
        let _server = server;
        panic!("a failure mid-run");
    }));
    let left: Vec<&ProcessId> = processes.iter().filter(|p| procs::alive(p)).collect();
    assert!(unwound.is_err());
    assert_eq!(left, Vec::<&ProcessId>::new(), "server processes left running");
    assert_eq!(mentioning(&root), Vec::<Pid>::new());
    assert!(!root.exists(), "{} left behind", root.display());
}

/// The example while it runs; if the test fails before it exited, it gets SIGTERM (its own
/// clean path) and, should that not end it in time, SIGKILL.
struct Running(Child);

impl Running {
    /// Its exit status, waiting at most `limit`.
    fn exited_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = kill_process(Pid::from_child(&self.0), Signal::TERM);
            if self.exited_within(LIMIT).is_none() {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }
}

/// Sends `signal` (numbered `number`) to the example once it prints a line starting with
/// `step` (step 2: all three servers run), and checks the moment it exits.
fn interrupted(signal: Signal, number: i32, step: &str) {
    let started = Instant::now();
    // Enough rows that the signal lands while they are being written.
    let mut example = Running(
        Command::new(common::example("postgres_failover"))
            .args(["--rows", "100000"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (lines, received) = mpsc::channel();
    let stdout = example.0.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut stderr = example.0.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    // Wait for the step; note the servers' directory.
    let deadline = started + LIMIT;
    let mut dir = None;
    let mut printed = Vec::new();
    loop {
        let line = received
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|e| panic!("no {step} within {LIMIT:?} ({e}):\n{}", printed.join("\n")));
        if let Some((_, root)) = line.split_once("; servers under ") {
            dir = Some(PathBuf::from(root));
        }
        let reached = line.starts_with(step);
        printed.push(line);
        if reached {
            break;
        }
    }
    let dir =
        dir.unwrap_or_else(|| panic!("the example did not print its directory:\n{}", printed.join("\n")));
    assert!(dir.is_dir());
    // Every process naming the directory (postmasters, initdb) and its descendants; in step
    // 1, as soon as there is one (initdb, or pg1 once initdb is done).
    let (named, processes) = loop {
        let named = mentioning(&dir);
        let processes: Vec<ProcessId> =
            named.iter().flat_map(|&pid| procs::server_processes(pid).unwrap_or_default()).collect();
        if !processes.is_empty() || started.elapsed() >= LIMIT {
            break (named, processes);
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if step == "== 2." {
        // Three postmasters (and the node agents, which name the directory too). A backend
        // the postmaster has just forked still shows the postmaster's command line until it
        // sets its own title, so a postmaster is a `postgres` whose parent is not one.
        let postgres = |pid: &Pid| {
            fs::read_to_string(format!("/proc/{}/comm", pid.as_raw_nonzero()))
                .is_ok_and(|c| c.trim() == "postgres")
        };
        let parent = |pid: &Pid| {
            let stat = fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero())).ok()?;
            let after_name = stat.rsplit_once(')')?.1;
            after_name.split_whitespace().nth(1)?.parse::<i32>().ok()
        };
        let servers: Vec<&Pid> = named.iter().filter(|pid| postgres(pid)).collect();
        let postmasters = servers
            .iter()
            .filter(|pid| {
                parent(pid).is_none_or(|ppid| !servers.iter().any(|s| s.as_raw_nonzero().get() == ppid))
            })
            .count();
        assert_eq!(postmasters, 3, "three postmasters under {}", dir.display());
    }
    assert!(!processes.is_empty(), "no process of the example's servers under {}", dir.display());

    let signalled = Instant::now();
    kill_process(Pid::from_child(&example.0), signal).unwrap();
    let status = example
        .exited_within(LIMIT)
        .unwrap_or_else(|| panic!("the example did not exit within {LIMIT:?} of the signal"));
    // The moment it exits: nothing left, no waiting.
    let left: Vec<&ProcessId> = processes.iter().filter(|p| procs::alive(p)).collect();
    let mentioned = mentioning(&dir);
    let dir_left = dir.exists();
    let exited_after = signalled.elapsed();
    reader.join().unwrap();
    let errors = errors.join().unwrap();

    assert_eq!(status.code(), Some(128 + number), "{status}: {errors}");
    assert_eq!(left, Vec::<&ProcessId>::new(), "server processes left running");
    assert_eq!(mentioned, Vec::<Pid>::new(), "processes naming {} left running", dir.display());
    assert!(!dir_left, "{} left behind", dir.display());
    println!(
        "{signal:?} at {step}: {} processes gone, directory removed, exited {} ms after the signal",
        processes.len(),
        exited_after.as_millis()
    );
}
