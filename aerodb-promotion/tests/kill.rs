//! Real process kills (stage 6.7): a child promotes in a loop on a real directory and is
//! SIGKILLed at seeded pseudo-random moments. After every kill the durable epoch is the last
//! one the child confirmed or one more, and the next child opens the store (no stale lock).
//! Seed: `AERODB_KILL_SEED` (printed). Figures:
//! `cargo test -p aerodb-promotion --test kill -- --nocapture`.
#![cfg(target_os = "linux")]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use aerodb_promotion::testing::caught_up_inputs;
use aerodb_promotion::*;
use common::*;

const CHILD_DIR: &str = "AERODB_KILL_CHILD_DIR";
const KILLS: usize = 200;

/// Child half: promotes between two nodes forever, confirming each durable epoch on stdout.
#[test]
fn child_promotes_forever() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else { return };
    let mut store = FileAuthorityStore::open(&dir).expect("the previous child's lock must be gone");
    let mut out = std::io::stdout().lock();
    let mut current = match recover(&store).unwrap().authority {
        Some(record) => record,
        None => store.bootstrap(id("node-a")).unwrap(),
    };
    writeln!(out, "ready epoch {}", current.epoch()).unwrap();
    out.flush().unwrap();
    loop {
        let candidate = if current.primary() == id("node-a") { "node-b" } else { "node-a" };
        let inputs = caught_up_inputs(&current, id(candidate), current.start().lsn.get() + 8);
        let approved = approve(&store, candidate, &inputs);
        current = approved.begin_transition().commit(&mut store).unwrap().complete().1.record().clone();
        writeln!(out, "committed epoch {}", current.epoch()).unwrap();
        out.flush().unwrap();
    }
}

/// splitmix64: a seeded, reproducible sequence of kill moments.
struct Moments(u64);

impl Moments {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The epoch after `marker` anywhere in `line` (the test harness may print before it).
fn epoch_of(line: &str, marker: &str) -> Option<u64> {
    line.split_once(marker).and_then(|(_, e)| e.trim().parse().ok())
}

#[test]
fn kills_at_random_moments_never_lose_or_invent_an_epoch() {
    let seed = std::env::var("AERODB_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0xC0FFEE);
    eprintln!("kill test: seed {seed} (replay with AERODB_KILL_SEED={seed})");
    let mut moments = Moments(seed);
    let dir = temp_dir("kill");
    let mut durable = 0u64;
    let mut mid_commit = 0;
    for kill in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_promotes_forever", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok);
        let ready = lines.by_ref().find_map(|l| epoch_of(&l, "ready epoch ")).expect("child must start");
        assert!(
            ready == durable || (durable == 0 && ready == 1),
            "kill {kill}: child started at {ready}, disk had {durable}"
        );
        let mut confirmed = ready;
        // Let the child confirm 0..3 commits, then kill it after a further 0..1000 µs of spinning.
        for _ in 0..moments.next() % 4 {
            match lines.by_ref().find_map(|l| epoch_of(&l, "committed epoch ")) {
                Some(epoch) => confirmed = epoch,
                None => break,
            }
        }
        let spin = std::time::Duration::from_micros(moments.next() % 1000);
        let start = std::time::Instant::now();
        while start.elapsed() < spin {
            std::hint::spin_loop();
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // Confirmations still in the pipe were printed before the kill: they count too.
        confirmed =
            lines.filter_map(|l| epoch_of(&l, "committed epoch ")).last().unwrap_or(confirmed).max(confirmed);

        let store = FileAuthorityStore::open(dir.path()).expect("no stale lock after a kill");
        let record =
            recover(&store).expect("a valid record after every kill").authority.expect("bootstrapped");
        let epoch = record.epoch().get();
        assert!(
            epoch == confirmed || epoch == confirmed + 1,
            "kill {kill}: durable epoch {epoch}, last confirmed {confirmed}"
        );
        if epoch == confirmed + 1 || !store.open_report().removed_leftovers.is_empty() {
            mid_commit += 1;
        }
        durable = epoch;
    }
    eprintln!(
        "kill test: {KILLS} kills survived, final epoch {durable}, {mid_commit} landed inside a commit"
    );
}
