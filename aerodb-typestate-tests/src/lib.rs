//! The machine-checked promotion spec: compile-fail cases proving the forty forbidden
//! transitions (and the listed misuses) do not compile. See `README.md`; the cases live
//! under `tests/ui/`.

use aerodb_promotion::StateKind;

/// File stem for a pair: `<from>_to_<to>` in snake_case, e.g. `steady_to_promotion_requested`.
pub fn case_name(from: StateKind, to: StateKind) -> String {
    format!("{}_to_{}", snake(from.name()), snake(to.name()))
}

/// The exact source of the compile-fail case for `from → to`.
pub fn forbidden_case(from: StateKind, to: StateKind) -> String {
    format!(
        "//! Forbidden: `{from}` → `{to}` (docs/PROTOCOL.md §3). Must not compile.\n\
         \n\
         fn require<From: aerodb_promotion::Transition<To>, To: aerodb_promotion::PromotionState>() {{}}\n\
         \n\
         fn main() {{\n    require::<aerodb_promotion::{from}, aerodb_promotion::{to}>();\n}}\n"
    )
}

/// Every ordered pair of states that §3 forbids, in spec order.
pub fn forbidden_pairs() -> Vec<(StateKind, StateKind)> {
    StateKind::ALL
        .iter()
        .flat_map(|from| StateKind::ALL.iter().map(move |to| (*from, *to)))
        .filter(|(from, to)| !from.may_transition_to(*to))
        .collect()
}

fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_snake_case() {
        assert_eq!(
            case_name(StateKind::AuthorityTransitioning, StateKind::Steady),
            "authority_transitioning_to_steady"
        );
    }
}
