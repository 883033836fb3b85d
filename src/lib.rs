//! `aerodb`: facade over [`aerodb_core`] (what promotion reads) and [`aerodb_promotion`]
//! (the typestate promotion machine, validator and durable authority).
//!
//! `use aerodb::prelude::*;` brings in everything a control plane needs to drive a promotion.

pub use aerodb_core as core;
pub use aerodb_promotion as promotion;

/// The types a control plane uses to drive a promotion.
pub mod prelude {
    pub use aerodb_core::{Epoch, EpochHistory, Lsn, MvccBoundary, NodeId, ReplicationState, WalPosition};
    pub use aerodb_promotion::{
        AuthorityView, Decision, GateRole, NodeView, OldPrimary, PrimaryGrant, Promotion, PromotionPolicy,
        PromotionRequest, PromotionSlot, ValidationInputs, Verdict, WriteAuthority, assess,
    };
}

/// The README's code is compiled and run as a doctest, so the tour cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
