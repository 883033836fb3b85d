//! A consumer that asserts a forbidden edge in a bound gets the spec's message.
use aerodb_promotion::{AuthorityTransitioning, Steady, Transition};

fn skip_validation()
where
    Steady: Transition<AuthorityTransitioning>,
{
}

fn main() {
    skip_validation();
}
