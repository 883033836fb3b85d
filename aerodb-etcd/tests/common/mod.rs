//! Shared by the etcd tests and the etcd benchmark (`#[path]`).

use aerodb_core::NodeId;

/// The node id `name`, which a test or benchmark names validly.
pub fn node(name: &str) -> NodeId {
    NodeId::new(name).expect("a valid node id")
}
