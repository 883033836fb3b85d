//! Each mutant, switched on in the model (never in the library), must make the checker find a
//! counterexample, printed as a readable trace.

use aerodb_model::model::{
    ACKED_WRITES_SURVIVE, EPOCHS_RISE_ONCE, NO_ACK_BELOW_DURABLE, ONE_ACKNOWLEDGER_PER_EPOCH,
    ONE_RECOVERABLE_AUTHORITY, WRITABLE_ONLY_BY_DURABLE_RECORD,
};
use aerodb_model::{Config, Mutant, ProtocolModel};
use std::collections::BTreeSet;

use stateright::{Checker, HasDiscoveries, Model};

/// Checks `config` with `mutant` one depth more at a time until `property` breaks, so the
/// counterexample is a shortest one (the checker keeps the last violating state it visits, and
/// at the first depth with any, every violating state is at that depth); returns its length in
/// steps, after printing it.
fn counterexample(config: Config, mutant: Mutant, property: &'static str) -> usize {
    for depth in 1..=MAX_DEPTH {
        let checker = ProtocolModel::new(config.with_mutant(mutant))
            .checker()
            .threads(1)
            .target_max_depth(depth)
            .finish_when(HasDiscoveries::AllOf(BTreeSet::from([property])))
            .spawn_bfs()
            .join();
        if let Some(path) = checker.discovery(property) {
            let steps = path.clone().into_actions().len();
            let trace = ProtocolModel::render(&path.into_vec());
            println!("{mutant:?} breaks \"{property}\" in {steps} steps:\n{trace}");
            return steps;
        }
    }
    panic!("{mutant:?}: \"{property}\" holds to depth {MAX_DEPTH}")
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
