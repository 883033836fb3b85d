//! The model checked completely on bounded configurations: every always-property holds in every
//! reachable state, and a promotion completes (the model is not vacuous).

use std::time::Instant;

use aerodb_model::{Config, ProtocolModel};
use stateright::{Checker, Model};

fn check(config: Config) -> usize {
    let started = Instant::now();
    let checker = ProtocolModel::new(config).checker().threads(2).spawn_bfs().join();
    let states = checker.unique_state_count();
    println!("{config:?}: {states} unique states, depth {}, {:?}", checker.max_depth(), started.elapsed());
    for (name, path) in checker.discoveries() {
        let pairs = path.into_vec();
        println!("discovery {name}:\n{}", ProtocolModel::render(&pairs));
    }
    checker.assert_properties();
    states
}

#[test]
fn the_small_configuration_holds_every_property() {
    assert!(check(Config::SMALL) > 1000);
}

/// The bounded configuration: 2 controllers, 3 nodes, epochs ≤ 3, 2 writes, 2 node crashes,
/// 1 controller crash. `.ci/run` runs it: `cargo test --release -p aerodb-model -- --ignored`.
#[test]
#[ignore = "minutes in debug; .ci/run runs it in release"]
fn the_bounded_configuration_holds_every_property() {
    assert!(check(Config::BOUNDED) > 1000);
}
