//! P6-A3: a `PrimaryGrant` is minted only from a durable record; it cannot be built or copied.
use aerodb_core::{Epoch, NodeId};
use aerodb_promotion::PrimaryGrant;

fn main() {
    let grant = PrimaryGrant { node: NodeId::new("rogue").unwrap(), epoch: Epoch::new(9) };
    let _ = grant;
}
