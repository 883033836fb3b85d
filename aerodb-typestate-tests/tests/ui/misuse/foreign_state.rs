//! `PromotionState` is sealed: no eighth state can be added from outside.
struct Limbo;

impl aerodb_promotion::PromotionState for Limbo {
    const KIND: aerodb_promotion::StateKind = aerodb_promotion::StateKind::Steady;
    type Hold = ();
    type Data = ();
}

fn main() {}
