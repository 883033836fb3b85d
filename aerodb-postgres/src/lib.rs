//! PostgreSQL streaming replication seen through AeroDB promotion.
//!
//! PostgreSQL maps onto the promotion protocol closely: a promotion starts a new *timeline*
//! (an epoch), a timeline's history file lists where each timeline began (an epoch history,
//! so the WAL prefix rule P6-S2 is timeline ancestry), positions are LSNs, and with
//! synchronous replication every acknowledged commit is flushed on the synchronous standby
//! before the client hears "committed" (P6-S1's evidence). `docs/POSTGRESQL.md` has the whole
//! mapping and where it is imperfect.
//!
//! - [`timeline`]: timelines as epochs, history files as epoch histories.
//! - [`observe`]: a server observed over SQL, as the validator's [`NodeView`](aerodb_promotion::NodeView).
//! - [`walsender`]: what the server says it is (`IDENTIFY_SYSTEM`, `TIMELINE_HISTORY`).
//! - [`cluster`]: a cluster file, node id → conninfo.
//! - [`control`]: one server as its node agent runs it (`pg_ctl`, `pg_rewind`, `postmaster.pid`).
//! - `deployment` (feature `testing`): servers with node agents and the tools as processes, for
//!   examples and tests.
//! - `harness` (feature `testing`): local servers for examples and tests (`initdb`,
//!   `pg_basebackup`, `pg_rewind`), and the signal registry that stops what they started.
//! - [`procs`]: a server's processes, read from `/proc`: whether it is confirmed stopped.
//!
//! ```
//! use aerodb_postgres::timeline;
//!
//! // What PostgreSQL wrote when a standby of timeline 1 was promoted at 0/3000148.
//! let history = timeline::history(2, Some("1\t0/3000148\tno recovery target specified\n"))?;
//! assert_eq!(history.latest().start.get(), 0x3000148);
//! # Ok::<(), aerodb_postgres::timeline::TimelineError>(())
//! ```

// No unwrap, expect or panic outside tests (clippy.toml allows them in tests): every failure
// is a typed error an operator can read.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// docs.rs (`--cfg docsrs`, nightly) marks what the `testing` feature adds.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod cluster;
pub mod control;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod deployment;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod harness;
pub mod observe;
pub mod procs;
pub mod timeline;
pub mod walsender;
