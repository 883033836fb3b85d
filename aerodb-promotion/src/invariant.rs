//! The spec's invariant ids (docs/PROTOCOL.md §4). Their text form is part of the interface.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! invariants {
    ($($(#[$doc:meta])* $variant:ident = $id:literal,)+) => {
        /// An invariant of docs/PROTOCOL.md §4, named by its id.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Invariant {
            $($(#[$doc])* #[serde(rename = $id)] $variant,)+
        }

        impl Invariant {
            /// Every invariant, in spec order.
            pub const ALL: &'static [Invariant] = &[$(Invariant::$variant,)+];

            /// The id as the spec writes it, e.g. `"P6-A1"`.
            pub const fn id(self) -> &'static str {
                match self { $(Invariant::$variant => $id,)+ }
            }
        }
    };
}

invariants! {
    /// Single write authority.
    P6A1 = "P6-A1",
    /// Force override: operator asserts the old primary is down; recorded everywhere.
    P6A1a = "P6-A1a",
    /// Atomic transfer.
    P6A2 = "P6-A2",
    /// No implicit claim: only an explicit promotion grants authority.
    P6A3 = "P6-A3",
    /// No acknowledged write loss.
    P6S1 = "P6-S1",
    /// WAL prefix rule.
    P6S2 = "P6-S2",
    /// MVCC visibility.
    P6S3 = "P6-S3",
    /// Fail closed.
    P6F1 = "P6-F1",
    /// Crash-safe.
    P6F2 = "P6-F2",
    /// No automatic retry.
    P6F3 = "P6-F3",
    /// Deterministic decision.
    P6D1 = "P6-D1",
    /// Deterministic recovery.
    P6D2 = "P6-D2",
    /// Observable.
    P6O1 = "P6-O1",
    /// Explainable.
    P6O2 = "P6-O2",
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_spec_ids() {
        let ids: Vec<_> = Invariant::ALL.iter().map(|i| i.id()).collect();
        assert_eq!(
            ids,
            [
                "P6-A1", "P6-A1a", "P6-A2", "P6-A3", "P6-S1", "P6-S2", "P6-S3", "P6-F1", "P6-F2", "P6-F3",
                "P6-D1", "P6-D2", "P6-O1", "P6-O2"
            ]
        );
    }

    /// An invariant prints as its id, in every event and explanation.
    #[test]
    fn display_is_the_id() {
        assert_eq!(Invariant::P6A1a.to_string(), "P6-A1a");
        assert_eq!(Invariant::P6S1.to_string(), Invariant::P6S1.id());
    }
}
