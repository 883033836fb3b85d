//! The operator's tools, as a library so that every program that runs them runs the same code:
//! [`tool`] is `aerodb-promote` (bootstrap, inspect, history, observe, promote, start over),
//! [`agent`] is `aerodb-pg-agent` (one per PostgreSQL server, converging it to the durable
//! authority). Both keep the authority where [`StoreArgs`] says; the examples that can keep it
//! in etcd take the same [`EtcdArgs`].

// No unwrap, expect or panic outside tests (clippy.toml allows them in tests): every failure
// is a typed error an operator can read.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod agent;
mod store_args;
pub mod tool;

pub use store_args::{EtcdArgs, PASSWORD_VAR, Place, PlaceError, StoreArgs, existing};
