//! Seeded quickcheck runs: every property prints its seed and replays from `AERODB_QC_SEED`.

use quickcheck::{Gen, QuickCheck, Testable};

/// Seed used when `AERODB_QC_SEED` is unset, so CI runs are reproducible.
pub const DEFAULT_SEED: u64 = 0xAE60_DB06;

/// The seed for this run: `AERODB_QC_SEED` if set (decimal), else [`DEFAULT_SEED`].
pub fn seed() -> u64 {
    std::env::var("AERODB_QC_SEED").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(DEFAULT_SEED)
}

/// Runs property `prop` for `tests` cases from the run's seed, printing the seed first so a
/// failure can be replayed with `AERODB_QC_SEED=<seed>`.
pub fn check<A: Testable>(name: &str, tests: u64, prop: A) {
    let seed = seed();
    eprintln!("property {name}: seed {seed} (replay with AERODB_QC_SEED={seed})");
    QuickCheck::new()
        .rng(Gen::from_size_and_seed(64, seed))
        .tests(tests)
        .max_tests(tests * 20)
        .quickcheck(prop);
}
