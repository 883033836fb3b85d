//! A node's durable high-water mark (P6-A1): the newest authority it has seen survives its
//! restarts, refuses any authority below it, and starts its gate there, so a store restored
//! whole from a backup — which the store itself cannot see — grants nothing below it.

mod common;

use aerodb_core::{Epoch, ReplicationState};
use aerodb_promotion::file_store::{HIGHEST_FILE, METADATA_DIR, RECORD_FILE};
use aerodb_promotion::*;
use common::*;

#[test]
fn a_mark_keeps_the_newest_authority_and_refuses_anything_below_it() {
    let authority = temp_dir("mark-authority");
    let mut store = FileAuthorityStore::open(authority.path()).unwrap();
    let first = store.bootstrap(id("node-a")).unwrap();
    let second = promoted(&mut store, &first, "node-b", 20);
    let node = temp_dir("mark-node");
    let mut mark = NodeMark::open(node.path()).unwrap();
    assert_eq!(mark.newest().unwrap(), None);
    mark.observe(&first).unwrap();
    mark.observe(&first).unwrap();
    mark.observe(&second).unwrap();
    drop(mark);
    let mut mark = NodeMark::open(node.path()).unwrap();
    assert_eq!(mark.newest().unwrap(), Some(second.clone()), "durable across restarts");
    let refused = mark.observe(&first);
    assert!(matches!(refused, Err(StoreError::WentBack(_))), "{refused:?}");
    // Another record at the mark's epoch (another branch, another cluster) is refused too.
    let elsewhere = temp_dir("mark-elsewhere");
    let mut other = FileAuthorityStore::open(elsewhere.path()).unwrap();
    let other_first = other.bootstrap(id("node-z")).unwrap();
    let other_second = promoted(&mut other, &other_first, "node-y", 20);
    assert!(matches!(mark.observe(&other_second), Err(StoreError::WentBack(_))));
    assert_eq!(mark.newest().unwrap(), Some(second), "a refusal changes nothing");
}

/// The case, on a file store restored whole from a backup taken at epoch 1 (record and
/// high-water copy both old, which the store cannot tell): recovery grants node-a at epoch 1
/// again. node-a, which saw epoch 2 before it went down, refuses that authority, and its gate,
/// built from its mark, refuses the grant; node-b keeps admitting at epoch 2 alone.
#[test]
fn a_store_restored_whole_grants_nothing_below_a_nodes_mark() {
    let authority = temp_dir("mark-restored");
    let mut store = FileAuthorityStore::open(authority.path()).unwrap();
    let first = store.bootstrap(id("node-a")).unwrap();
    let backup: Vec<(String, Vec<u8>)> = [RECORD_FILE, HIGHEST_FILE]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(authority.path().join(METADATA_DIR).join(f)).unwrap()))
        .collect();
    let second = promoted(&mut store, &first, "node-b", 20);
    let (node_a, node_b) = (temp_dir("mark-a"), temp_dir("mark-b"));
    let (mut mark_a, mut mark_b) =
        (NodeMark::open(node_a.path()).unwrap(), NodeMark::open(node_b.path()).unwrap());
    mark_a.observe(&second).unwrap();
    mark_b.observe(&second).unwrap();
    let gate_b = WriteGate::replica(id("node-b"), mark_b.newest().unwrap().as_ref()).unwrap();
    let grant = recover(&store).unwrap().grant;
    assert!(grant.is_none(), "the commit's grant was this handle's one for epoch 2");
    drop(store);
    let store = FileAuthorityStore::open(authority.path()).unwrap();
    recover(&store).unwrap().grant.unwrap().rebind(ReplicationState::ReplicaActive, &gate_b, &store).unwrap();
    assert_eq!(gate_b.admit_write(), Ok(Epoch::new(2)));
    drop(store);

    for (file, bytes) in &backup {
        std::fs::write(authority.path().join(METADATA_DIR).join(file), bytes).unwrap();
    }
    let restored = FileAuthorityStore::open(authority.path()).unwrap();
    let recovered = recover(&restored).unwrap();
    assert_eq!(recovered.authority.as_ref(), Some(&first), "the store cannot see a whole restore");
    let stale = recovered.grant.unwrap();
    assert!(matches!(mark_a.observe(&first), Err(StoreError::WentBack(_))), "node-a refuses the authority");
    let gate_a = WriteGate::replica(id("node-a"), mark_a.newest().unwrap().as_ref()).unwrap();
    let refused = stale.rebind(ReplicationState::Uninitialized, &gate_a, &restored);
    assert!(
        matches!(refused, Err(RebindError::Gate(GateError::Superseded { granted, seen }))
            if granted == Epoch::new(1) && seen == Epoch::new(2)),
        "{refused:?}"
    );
    assert!(gate_a.admit_write().is_err());
    assert_eq!(gate_b.admit_write(), Ok(Epoch::new(2)), "one writer");
}
