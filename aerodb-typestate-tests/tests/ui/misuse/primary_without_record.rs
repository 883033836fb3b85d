//! P6-A3: no gate and no role becomes the primary's without a durable record: there is no
//! primary constructor, no public `assume_primary`, no `ReplicationState::promote`, and a gate's
//! starting epoch comes from durable state, never from a caller's number.
use aerodb_core::{Epoch, NodeId, ReplicationState};
use aerodb_promotion::{GateRole, WriteGate};

fn main() {
    let _primary = WriteGate::new(GateRole::Primary, Epoch::new(1));
    let gate = WriteGate::replica(NodeId::new("replica-1").unwrap(), None).unwrap();
    let _ = gate.assume_primary(Epoch::new(2));
    let _role = ReplicationState::ReplicaActive.promote();
    let _chosen = WriteGate::replica(NodeId::new("replica-1").unwrap(), Epoch::new(1));
    let _chosen = WriteGate::at_epoch(NodeId::new("replica-1").unwrap(), Epoch::new(1));
}
