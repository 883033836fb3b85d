//! P6-A3: no gate and no role becomes the primary's without a durable record: there is no
//! primary constructor, no public `assume_primary`, and no `ReplicationState::promote`.
use aerodb_core::{Epoch, NodeId, ReplicationState};
use aerodb_promotion::{GateRole, WriteAuthority};

fn main() {
    let _primary = WriteAuthority::new(GateRole::Primary, Epoch::new(1));
    let gate = WriteAuthority::replica(NodeId::new("replica-1").unwrap(), Epoch::new(1)).unwrap();
    let _ = gate.assume_primary(Epoch::new(2));
    let _role = ReplicationState::ReplicaActive.promote();
}
