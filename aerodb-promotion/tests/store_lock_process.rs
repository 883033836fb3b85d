//! The file store's lock across processes: a killed controller leaves no lock behind.
//!
//! Its own test binary: a child spawned while another test of the same process drops a store
//! inherits that store's lock descriptor until its `exec`, so a reopen there could briefly see
//! the lock held (seen once in 60 runs when this lived in `store.rs`).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use aerodb_promotion::*;
use common::*;

const CHILD_DIR: &str = "AERODB_LOCK_CHILD_DIR";

/// Child half of the kill test: holds the lock until killed. A no-op in a normal run.
#[test]
fn child_holds_lock() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else { return };
    let _store = FileAuthorityStore::open(dir).unwrap();
    println!("locked");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line); // blocks until the parent kills us
}

#[test]
fn a_killed_controller_leaves_no_lock_behind() {
    let dir = temp_dir("killed");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_holds_lock", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let holding = stdout.lines().map_while(Result::ok).any(|line| line.contains("locked"));
    assert!(holding, "child never reported holding the lock");
    assert!(matches!(FileAuthorityStore::open(dir.path()), Err(StoreError::Locked { .. })));
    child.kill().unwrap();
    child.wait().unwrap();
    let store = FileAuthorityStore::open(dir.path()).expect("the kernel released the dead child's lock");
    assert_eq!(store.load().unwrap(), None);
}
