//! What AeroDB promotion reads from the frozen phases: node ids, WAL positions and epoch
//! history, replication roles and the MVCC commit boundary.
//!
//! Plain values with no I/O. The write-admission gate lives in `aerodb-promotion`, beside the
//! durable authority record: only a proof of that record may make a gate writable (P6-A3).
//!
//! ```
//! use aerodb_core::{Epoch, EpochHistory, Lsn, WalPosition, Holding};
//!
//! let history = EpochHistory::initial(Epoch::new(1)).extended(Epoch::new(2), Lsn::new(100))?;
//! // Epoch 1 ended at LSN 100 on this history, so 1/150 is not held, though 2/120 sorts after it.
//! let end = WalPosition::new(Epoch::new(2), Lsn::new(120));
//! let acknowledged = WalPosition::new(Epoch::new(1), Lsn::new(150));
//! assert!(matches!(history.holds(end, acknowledged), Holding::EndsBefore { .. }));
//! # Ok::<(), aerodb_core::HistoryError>(())
//! ```

// No unwrap, expect or panic outside tests (clippy.toml allows them in tests): every failure
// is a typed error an operator can read.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod ids;
mod mvcc;
mod replication;
#[cfg(feature = "testing")]
pub mod testing;
mod wal;

pub use ids::{NODE_ID_MAX_LEN, NodeId, NodeIdError};
pub use mvcc::{BoundaryViolation, MvccBoundary, PartialCommit};
pub use replication::{ChangePath, HaltReason, ROLE_CHANGES, ReplicationState, RoleChangeError, RoleKind};
pub use wal::{
    Continuation, Epoch, EpochHistory, EpochStart, HistoryError, Holding, Lsn, OffHistory, WalPosition,
};
