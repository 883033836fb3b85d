//! What AeroDB promotion reads from the frozen phases: node ids, WAL positions and epoch
//! history, replication roles, the MVCC commit boundary, and the write-admission gate.
//!
//! Plain values with no I/O. The one piece on the steady-state write path,
//! [`WriteAuthority::admit_write`], is a single atomic load.
//!
//! ```
//! use aerodb_core::{Epoch, GateRole, WriteAuthority, WriteRefused};
//!
//! let old_primary = WriteAuthority::new(GateRole::Primary, Epoch(1)).unwrap();
//! assert_eq!(old_primary.admit_write(), Ok(Epoch(1)));
//! old_primary.observe_epoch(Epoch(2)); // a promotion happened elsewhere
//! assert!(matches!(old_primary.admit_write(), Err(WriteRefused::Fenced { .. })));
//! ```

pub mod authority;
pub mod ids;
pub mod mvcc;
pub mod replication;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wal;

pub use authority::{GateError, GateRole, WalRefused, WriteAuthority, WriteRefused};
pub use ids::{NodeId, NodeIdError};
pub use mvcc::{BoundaryViolation, MvccBoundary, PartialCommit};
pub use replication::{HaltReason, ReplicationState, RoleChangeError, RoleKind};
pub use wal::{Continuation, Epoch, EpochHistory, EpochStart, HistoryError, Holding, Lsn, WalPosition};
