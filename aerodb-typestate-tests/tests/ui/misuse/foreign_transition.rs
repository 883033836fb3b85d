//! `Transition` cannot be implemented from outside: no tenth edge can be added.
use aerodb_promotion::{AuthorityTransitioning, Steady, Transition};

impl Transition<AuthorityTransitioning> for Steady {
    type Source = ();
    fn source(data: ()) {}
}

fn main() {}
