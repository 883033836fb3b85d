//! Each mutant, switched on in the model (never in the library), must make the checker find a
//! counterexample, printed as a readable trace.

use aerodb_model::model::{
    ACKED_WRITES_SURVIVE, EPOCHS_RISE_ONCE, NO_ACK_BELOW_DURABLE, ONE_ACKNOWLEDGER_PER_EPOCH,
    ONE_RECOVERABLE_AUTHORITY, WRITABLE_ONLY_BY_DURABLE_RECORD, shortest_counterexample,
};
use aerodb_model::{Config, Mutant};

/// A shortest counterexample to `property` with `mutant` switched on in `config`: printed, and
/// its length returned; fails if there is none.
fn counterexample(config: Config, mutant: Mutant, property: &'static str) -> usize {
    let Some((steps, trace)) = shortest_counterexample(config.with_mutant(mutant), property, MAX_DEPTH)
    else {
        panic!("{mutant:?}: \"{property}\" holds to depth {MAX_DEPTH}")
    };
    println!("{mutant:?} breaks \"{property}\" in {steps} steps:\n{trace}");
    steps
}

/// Deeper than every counterexample the mutants need.
const MAX_DEPTH: usize = 16;

/// Two client writes: one for each of two primaries.
const TWO_WRITES: Config = Config { max_writes: 2, ..Config::SMALL };

#[test]
fn a_volatile_record_leaves_no_recoverable_authority() {
    assert_eq!(counterexample(Config::SMALL, Mutant::VolatileRecord, ONE_RECOVERABLE_AUTHORITY), 1);
}

#[test]
fn a_volatile_record_lets_two_nodes_acknowledge_in_one_epoch() {
    counterexample(TWO_WRITES, Mutant::VolatileRecord, ONE_ACKNOWLEDGER_PER_EPOCH);
}

#[test]
fn a_blind_put_commits_an_epoch_twice() {
    counterexample(Config::SMALL, Mutant::BlindPut, EPOCHS_RISE_ONCE);
}

#[test]
fn the_caught_up_check_without_its_lower_bound_loses_an_acknowledged_write() {
    counterexample(Config::SMALL, Mutant::NoAcknowledgedLowerBound, ACKED_WRITES_SURVIVE);
}

#[test]
fn a_follower_that_never_fences_acknowledges_below_the_durable_epoch() {
    counterexample(Config::SMALL, Mutant::NeverFence, NO_ACK_BELOW_DURABLE);
}

#[test]
fn an_agent_promoting_before_the_record_is_durable_is_writable_without_it() {
    counterexample(Config::SMALL, Mutant::PromoteBeforeDurable, WRITABLE_ONLY_BY_DURABLE_RECORD);
}

#[test]
fn a_store_accepting_an_older_epoch_commits_an_epoch_twice() {
    counterexample(Config::SMALL, Mutant::StoreAcceptsOlderEpoch, EPOCHS_RISE_ONCE);
}
