//! P6-A1: a grant is not `Clone`: one grant, one gate.
use aerodb_promotion::{Committed, PrimaryGrant};

fn copy(committed: Committed) -> (PrimaryGrant, PrimaryGrant) {
    let grant = committed.into_grant();
    (grant.clone(), grant)
}

fn main() {
    let _ = copy;
}
