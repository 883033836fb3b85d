//! The seven states and nine edges in the type system (docs/PROTOCOL.md §2–§3), and the
//! attempt value `Promotion<S>` they type. Its transition methods are in `machine.rs`.
//!
//! Seven zero-sized markers; `Promotion<S>` is an attempt in state `S`. Only the nine allowed
//! edges implement [`Transition`], each transition method requires it, so a forbidden move
//! does not compile and its error names the pair. The edges are declared once, below, and the
//! runtime table [`ALLOWED_TRANSITIONS`] and its docs are generated from that one list.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::gate::PrimaryGrant;
use crate::record::AuthorityRecord;
use crate::request::PromotionRequest;
use crate::slot::{Claim, PromotionSlot};
use crate::validator::{Approval, Denial};

mod sealed {
    pub trait Sealed {}
}

/// A durable promotion: the approval, the record it made authoritative, and the one grant
/// that makes the new primary's gate writable.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub struct Committed {
    approval: Approval,
    record: AuthorityRecord,
    grant: PrimaryGrant,
}

impl Committed {
    /// `approval` made durable as `record`.
    pub(crate) fn new(approval: Approval, record: AuthorityRecord, slot: &PromotionSlot) -> Self {
        Committed { grant: PrimaryGrant::committed(&record, slot), approval, record }
    }
    /// The approval that was applied.
    pub fn approval(&self) -> &Approval {
        &self.approval
    }
    /// The record now durable.
    pub fn record(&self) -> &AuthorityRecord {
        &self.record
    }
    /// Stage 6.5 for the committed primary: the grant [`PrimaryGrant::rebind`] consumes, so the
    /// commit makes at most one gate writable, and only the named node's (P6-A1).
    pub fn into_grant(self) -> PrimaryGrant {
        self.grant
    }
}

/// A promotion state: one of the seven markers. Sealed: no other type can be a state.
pub trait PromotionState: sealed::Sealed + 'static {
    /// This state at run time.
    const KIND: StateKind;
    /// What the attempt holds of its authority's slot: the slot itself, or the claim on it.
    #[doc(hidden)]
    type Hold: HoldsSlot;
    /// The state's payload.
    #[doc(hidden)]
    type Data: Payload;
}

/// `Self → To` is one of the nine allowed transitions (§3). Sealed through [`PromotionState`].
#[diagnostic::on_unimplemented(
    message = "forbidden promotion transition `{Self}` → `{To}`",
    label = "`{Self}` → `{To}` is not one of the nine allowed promotion transitions",
    note = "docs/PROTOCOL.md §3: only the nine transitions listed in `aerodb_promotion::ALLOWED_TRANSITIONS` exist; every other move, self-loops included, is forbidden"
)]
pub trait Transition<To: PromotionState>: PromotionState + Sized {
    /// Why this transition happens (§3), as events and docs state it.
    const REASON: &'static str;
    /// The parts of `Promotion<Self>` that edge `Self → To` consumes.
    #[doc(hidden)]
    type Source;
    /// Unpacks `from`; callable only inside this crate, which alone can make an `Unpack`.
    #[doc(hidden)]
    fn source(from: Promotion<Self>, _: Unpack) -> Self::Source;
}

macro_rules! states {
    ($($(#[$doc:meta])* $name:ident => $hold:ty, $data:ty;)+) => {
        $(
            $(#[$doc])*
            #[derive(Debug)]
            pub struct $name;
            impl sealed::Sealed for $name {}
            impl PromotionState for $name {
                const KIND: StateKind = StateKind::$name;
                type Hold = $hold;
                type Data = $data;
            }
        )+

        /// A promotion state at run time, for events, recovery and docs.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum StateKind {
            $($(#[$doc])* $name,)+
        }

        impl StateKind {
            /// All seven states, in spec order.
            pub const ALL: [StateKind; 7] = [$(StateKind::$name,)+];

            /// The state's name, exactly as the spec writes it.
            pub const fn name(self) -> &'static str {
                match self { $(StateKind::$name => stringify!($name),)+ }
            }
        }
    };
}

// From screening until the return to `Steady` an attempt holds its authority's slot (P6-A1).
states! {
    /// No promotion in progress; roles stable. Every path ends here.
    Steady => PromotionSlot, ();
    /// An explicit request was accepted; nothing validated yet.
    PromotionRequested => PromotionSlot, PromotionRequest;
    /// Safety checks running; no authority change.
    PromotionValidating => Claim, PromotionRequest;
    /// All checks passed; nothing applied; no durable effect.
    PromotionApproved => Claim, Approval;
    /// The atomic authority switch is being applied.
    AuthorityTransitioning => Claim, Approval;
    /// The switch is durable; the candidate is the primary.
    PromotionSucceeded => Claim, Committed;
    /// A check failed; explicit reasons; no authority change.
    PromotionDenied => Claim, Denial;
}

macro_rules! transitions {
    ($($from:ident => $to:ident: $why:literal,)+) => {
        $(
            #[doc = concat!("§3: `", stringify!($from), "` → `", stringify!($to), "`: ", $why, ".")]
            impl Transition<$to> for $from {
                const REASON: &'static str = $why;
                type Source = (<$from as PromotionState>::Hold, Box<<$from as PromotionState>::Data>);
                fn source(mut from: Promotion<Self>, _: Unpack) -> Self::Source {
                    match from.parts.take() {
                        Some(parts) => parts,
                        None => unreachable!("a state is unpacked once, by the transition consuming it"),
                    }
                }
            }
        )+

        /// The nine allowed transitions of docs/PROTOCOL.md §3, generated from the same list as
        /// the [`Transition`] impls; every other pair of states is forbidden:
        ///
        $(#[doc = concat!("- `", stringify!($from), "` → `", stringify!($to), "`: ", $why)])+
        pub const ALLOWED_TRANSITIONS: [(StateKind, StateKind); 9] = [$((StateKind::$from, StateKind::$to),)+];

        /// Why `from → to` happens, or `None` for a forbidden pair.
        pub fn transition_reason(from: StateKind, to: StateKind) -> Option<&'static str> {
            $(if (from, to) == (StateKind::$from, StateKind::$to) { return Some($why); })+
            None
        }
    };
}

transitions! {
    Steady => PromotionRequested: "an explicit request was accepted",
    PromotionRequested => PromotionValidating: "the request passed screening; safety checks begin",
    PromotionRequested => Steady: "the request was rejected immediately",
    PromotionValidating => PromotionApproved: "every safety check passed",
    PromotionValidating => PromotionDenied: "a safety check failed",
    PromotionApproved => AuthorityTransitioning: "the atomic authority switch begins",
    AuthorityTransitioning => PromotionSucceeded: "the new authority record is durable",
    PromotionSucceeded => Steady: "the new primary holds authority; the attempt is complete",
    PromotionDenied => Steady: "the denial was reported; authority is unchanged",
}

impl StateKind {
    /// Whether `self → to` is one of the nine allowed transitions.
    pub fn may_transition_to(self, to: StateKind) -> bool {
        ALLOWED_TRANSITIONS.contains(&(self, to))
    }
}

impl fmt::Display for StateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub(crate) use held::{HoldsSlot, Payload, Unpack};

/// Public types in a private module: they appear in signatures but cannot be named outside.
mod held {
    use crate::slot::PromotionSlot;

    /// Permission to unpack a state into its parts; only this crate can make one.
    #[derive(Debug)]
    pub struct Unpack(pub(crate) ());

    /// A state's hold: it leads to the slot.
    pub trait HoldsSlot {
        /// The slot.
        fn slot(&self) -> &PromotionSlot;
    }

    /// A state's payload: what reporting an abandoned attempt in that state takes.
    pub trait Payload {
        /// Reports the attempt, dropped in state `kind`, as its one outcome (P6-O1).
        fn abandoned(&self, kind: super::StateKind, slot: &PromotionSlot);
    }
}

impl HoldsSlot for PromotionSlot {
    fn slot(&self) -> &PromotionSlot {
        self
    }
}

impl HoldsSlot for Claim {
    fn slot(&self) -> &PromotionSlot {
        Claim::slot(self)
    }
}

impl Payload for () {
    fn abandoned(&self, _: StateKind, _: &PromotionSlot) {}
}

/// A promotion attempt in state `S`. Its type is its state: only allowed transitions compile.
///
/// Not `Clone`; every transition consumes it. One word for the slot (or the claim on it) and
/// one for the payload, whatever `S` is; states that share a payload type share its box.
#[must_use = "a promotion state must be driven back to `Steady`; dropping it abandons the attempt"]
pub struct Promotion<S: PromotionState> {
    /// The slot (or claim) and the payload; `None` only once a transition has taken them.
    parts: Option<(S::Hold, Box<S::Data>)>,
}

/// Dropping an attempt anywhere past `Steady` still ends it in exactly one counted, evented
/// outcome (P6-O1): before a decision it is aborted (`aborted_on_crash`, crash-abort counter)
/// as a crash there would forget it; a success or denial, already counted, is completed.
impl<S: PromotionState> Drop for Promotion<S> {
    fn drop(&mut self) {
        if let Some((hold, data)) = &self.parts {
            data.abandoned(S::KIND, hold.slot());
        }
    }
}

impl<S: PromotionState> fmt::Debug for Promotion<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Promotion").field("state", &S::KIND).finish_non_exhaustive()
    }
}

impl<S: PromotionState> Promotion<S> {
    /// The state this attempt is in.
    pub fn kind(&self) -> StateKind {
        S::KIND
    }

    /// `Promotion<S>` from its parts; only transitions call this.
    pub(crate) fn assemble(hold: S::Hold, data: Box<S::Data>) -> Self {
        Promotion { parts: Some((hold, data)) }
    }

    /// The state's payload.
    pub(crate) fn data(&self) -> &S::Data {
        match &self.parts {
            Some((_, data)) => data,
            None => unreachable!("a state's parts are gone only inside the transition consuming it"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_zero_sized_and_promotions_all_one_size() {
        assert_eq!(size_of::<Steady>(), 0);
        assert_eq!(size_of::<PromotionRequested>(), 0);
        assert_eq!(size_of::<PromotionValidating>(), 0);
        assert_eq!(size_of::<PromotionApproved>(), 0);
        assert_eq!(size_of::<AuthorityTransitioning>(), 0);
        assert_eq!(size_of::<PromotionSucceeded>(), 0);
        assert_eq!(size_of::<PromotionDenied>(), 0);
        let size = size_of::<Promotion<Steady>>();
        assert_eq!(size, 2 * size_of::<usize>());
        assert_eq!(size_of::<Promotion<PromotionRequested>>(), size);
        assert_eq!(size_of::<Promotion<PromotionValidating>>(), size);
        assert_eq!(size_of::<Promotion<PromotionApproved>>(), size);
        assert_eq!(size_of::<Promotion<AuthorityTransitioning>>(), size);
        assert_eq!(size_of::<Promotion<PromotionSucceeded>>(), size);
        assert_eq!(size_of::<Promotion<PromotionDenied>>(), size);
    }

    #[test]
    fn the_runtime_table_is_exactly_the_spec_edges() {
        use StateKind::*;
        let spec = [
            (Steady, PromotionRequested),
            (PromotionRequested, PromotionValidating),
            (PromotionRequested, Steady),
            (PromotionValidating, PromotionApproved),
            (PromotionValidating, PromotionDenied),
            (PromotionApproved, AuthorityTransitioning),
            (AuthorityTransitioning, PromotionSucceeded),
            (PromotionSucceeded, Steady),
            (PromotionDenied, Steady),
        ];
        assert_eq!(ALLOWED_TRANSITIONS, spec);
        let forbidden = StateKind::ALL
            .iter()
            .flat_map(|f| StateKind::ALL.iter().map(move |t| (*f, *t)))
            .filter(|(f, t)| !f.may_transition_to(*t))
            .count();
        assert_eq!(forbidden, 40);
        for (from, to) in ALLOWED_TRANSITIONS {
            assert!(transition_reason(from, to).is_some());
        }
        assert_eq!(transition_reason(Steady, AuthorityTransitioning), None);
    }

    /// The compile-time impls agree with the runtime table, edge by edge.
    #[test]
    fn trait_impls_match_the_runtime_table() {
        fn edge<F: Transition<T>, T: PromotionState>() -> (StateKind, StateKind) {
            (F::KIND, T::KIND)
        }
        let from_impls = [
            edge::<Steady, PromotionRequested>(),
            edge::<PromotionRequested, PromotionValidating>(),
            edge::<PromotionRequested, Steady>(),
            edge::<PromotionValidating, PromotionApproved>(),
            edge::<PromotionValidating, PromotionDenied>(),
            edge::<PromotionApproved, AuthorityTransitioning>(),
            edge::<AuthorityTransitioning, PromotionSucceeded>(),
            edge::<PromotionSucceeded, Steady>(),
            edge::<PromotionDenied, Steady>(),
        ];
        assert_eq!(from_impls, ALLOWED_TRANSITIONS);
    }

    #[test]
    fn state_names_are_the_spec_names() {
        let names: Vec<_> = StateKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "Steady",
                "PromotionRequested",
                "PromotionValidating",
                "PromotionApproved",
                "AuthorityTransitioning",
                "PromotionSucceeded",
                "PromotionDenied"
            ]
        );
    }

    /// An attempt's Debug output names its state and nothing else.
    #[test]
    fn debug_names_the_state() {
        let slot = PromotionSlot::new();
        let steady: Promotion<Steady> = Promotion::assemble(slot, Box::new(()));
        assert_eq!(format!("{steady:?}"), "Promotion { state: Steady, .. }");
    }
}
