//! `aerodb`: facade over [`aerodb_core`] (what promotion reads) and [`aerodb_promotion`]
//! (the typestate promotion machine, validator and durable authority).
//!
//! `use aerodb::prelude::*;` brings in everything a control plane needs to drive a promotion.

// No unwrap, expect or panic outside tests (clippy.toml allows them in tests): every failure
// is a typed error an operator can read.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub use aerodb_core as core;
pub use aerodb_promotion as promotion;

/// What a control plane needs to drive a promotion end to end: observe, request, decide,
/// commit, recover and rebind, explain. Errors and the less common types are at
/// [`promotion`] and [`core`].
pub mod prelude {
    pub use aerodb_core::{
        Epoch, EpochHistory, HaltReason, Lsn, MvccBoundary, NodeId, PartialCommit, ReplicationState,
        WalPosition,
    };
    pub use aerodb_promotion::prelude::*;
}

/// The README's code is compiled and run as a doctest, so the tour cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
