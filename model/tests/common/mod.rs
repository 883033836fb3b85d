//! Recording real runs for trace validation: each controller's actions run under a capturing
//! subscriber, and what they emitted is tagged with that controller (the events name none).
#![allow(dead_code)] // each test binary uses part of it

use std::error::Error;

use aerodb_core::NodeId;
use aerodb_model::trace::Event;
use aerodb_promotion::testing::caught_up_inputs;
use aerodb_promotion::testing::events::Capture;
use aerodb_promotion::{
    AuthorityRecord, AuthorityStore, AuthorityTransitioning, Decision, Promotion, PromotionApproved,
    PromotionPolicy, PromotionRequest, recover,
};

pub type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The events of one run, in the order they were emitted, each with its controller.
#[derive(Default)]
pub struct Recorder {
    capture: Capture,
    pub events: Vec<Event>,
}

impl Recorder {
    /// Runs `f` as controller `ctl`, recording what it emits.
    pub fn as_ctl<T>(&mut self, ctl: u8, f: impl FnOnce() -> T) -> T {
        let out = tracing::subscriber::with_default(self.capture.clone(), f);
        let emitted = self.capture.take().into_iter();
        self.events.extend(emitted.map(|e| Event { ctl, name: e.name, fields: e.fields }));
        out
    }
}

/// Reads the authority from `store` and has the validator approve `candidate`, its WAL at the
/// authority's start and the old primary confirmed stopped. The approval holds the handle's
/// slot until it is committed or dropped.
pub fn approve<S: AuthorityStore + ?Sized>(
    store: &S,
    candidate: &str,
) -> Result<(AuthorityRecord, Promotion<PromotionApproved>)> {
    let recovered = recover(store)?;
    let current = recovered.authority.ok_or("no authority")?;
    let inputs = caught_up_inputs(&current, NodeId::new(candidate)?, current.start().lsn.get());
    let request = PromotionRequest::builder(candidate).build()?;
    let validating = recovered.steady.request(request).begin_validation(PromotionPolicy::Enabled, &inputs)?;
    match validating.decide(&inputs) {
        Decision::Approved(approved) => Ok((current, approved)),
        Decision::Denied(denied) => Err(denied.denial().reason().to_string().into()),
    }
}

/// What one commit came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Commit {
    /// Durable at this epoch.
    Made(u64),
    /// Refused by the store: nothing written.
    Conflict,
    /// Failed otherwise: the outcome is unknown to the controller.
    Unknown,
}

/// Commits an attempt through `store`.
pub fn commit<S: AuthorityStore + ?Sized>(
    store: &mut S,
    transitioning: Promotion<AuthorityTransitioning>,
) -> Commit {
    match transitioning.commit(store) {
        Ok(succeeded) => Commit::Made(succeeded.complete().1.record().epoch().get()),
        Err(failure) if failure.error().is_conflict() => Commit::Conflict,
        Err(_) => Commit::Unknown,
    }
}

/// Reads, approves and commits `candidate` in one go.
pub fn promote<S: AuthorityStore + ?Sized>(store: &mut S, candidate: &str) -> Result<Commit> {
    let (_, approved) = approve(&*store, candidate)?;
    Ok(commit(store, approved.begin_transition()))
}
