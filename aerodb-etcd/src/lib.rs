//! The AeroDB authority kept in etcd v3, so the control plane survives losing its own machine.
//!
//! [`EtcdAuthorityStore`] is an [`AuthorityStore`](aerodb_promotion::AuthorityStore) beside the
//! file store: the same record bytes under one key, with a companion high-water copy
//! ([`highest_key`]) put in the same transaction, bootstrapped only if neither key ever existed,
//! replaced only by a transaction comparing the revisions the commit checked (P6-A1), read
//! linearizably, and never trusted to time (no lease or TTL, P6-A3). Every reader refuses a
//! record that went back from its companion or from what the reader saw (a deleted or
//! rolled-back key); [`EtcdAuthorityStore::start_over`] is the operator's explicit way on
//! after a real loss. Every open settles the transactions sent before it, so an unknown
//! outcome, once recovery has decided it, stays decided (P6-F2). It speaks etcd's v3 JSON
//! gateway over a blocking HTTP client ([`Connection`]: several endpoints, TLS, user and
//! password, every answer checked to come from the same etcd cluster): no `protoc`, no async
//! runtime.
//!
//! [`AuthorityFollower`] lets a node follow the key and fence its own write gate once a newer
//! epoch is durable; it never goes back. `harness` (feature `testing`) starts real etcd members on
//! loopback ports for examples and tests.

// No unwrap, expect or panic outside tests (clippy.toml allows them in tests): every failure
// is a typed error an operator can read.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// docs.rs (`--cfg docsrs`, nightly) marks what the `testing` feature adds.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod follow;
mod gateway;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod harness;
mod store;

pub use follow::AuthorityFollower;
pub use gateway::{Connection, PASSWORD_VAR, Tls};
pub use store::{
    EtcdAuthorityStore, MAX_KEY_LEN, fence_key, highest_key, read_record, read_report, report_key,
};
