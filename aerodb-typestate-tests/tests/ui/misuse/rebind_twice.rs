//! P6-A1: rebinding consumes the grant, so one commit makes at most one gate writable.
use aerodb_core::{NodeId, ReplicationState};
use aerodb_promotion::testing::MemoryStore;
use aerodb_promotion::{Committed, WriteGate};

fn rebind_two(committed: Committed, a: &WriteGate, b: &WriteGate, store: &MemoryStore) {
    let grant = committed.into_grant();
    let _ = grant.rebind(ReplicationState::ReplicaActive, a, store);
    let _ = grant.rebind(ReplicationState::ReplicaActive, b, store);
}

fn main() {
    let _ = NodeId::new("unused");
    let _ = rebind_two;
}
