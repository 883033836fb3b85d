//! Recovery: durable state → `Promotion<Steady>` plus the authority it holds (P6-F2, P6-D2), and
//! the use of the grant it hands out, which reads the durable state again (P6-A1, P6-A3).
//!
//! Transient states are never persisted, so every restart begins in `Steady`; the authority is
//! exactly what the record says — none, a valid record, or an error. Recovery never decides.

use aerodb_core::{Epoch, NodeId, ReplicationState, RoleChangeError};

use crate::gate::{GateError, PrimaryGrant, WriteGate};
use crate::record::AuthorityRecord;
use crate::states::{Promotion, Steady};
use crate::store::{AuthorityStore, StoreError};

/// What recovery found.
#[derive(Debug)]
#[must_use]
pub struct Recovered {
    /// Idle, for `store`'s authority.
    pub steady: Promotion<Steady>,
    /// The durable authority; `None` if never bootstrapped.
    pub authority: Option<AuthorityRecord>,
    /// The grant for the durable record's primary at its epoch, for that node's restart (or
    /// its first start after bootstrap): its gate becomes writable only through this (P6-A3).
    /// `None` when this store handle already handed out the grant for this record (P6-A1).
    pub grant: Option<PrimaryGrant>,
}

/// Reads the durable authority of `store`. The same bytes always give the same result (P6-D2);
/// a record that fails any check is an error, never read as old or new (P6-F1).
pub fn recover<St: AuthorityStore + ?Sized>(store: &St) -> Result<Recovered, StoreError> {
    let authority = store.load()?;
    if let Some(record) = &authority {
        store.slot().metrics().set_primary(record.primary());
    }
    let grant = authority.as_ref().and_then(|record| PrimaryGrant::mint(record, store.slot()));
    Ok(Recovered { steady: Promotion::new(store.slot()), authority, grant })
}

/// Why rebinding a node to a durable authority was refused; the gate is unchanged.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RebindError {
    /// The gate is another node's than the one the record names (P6-A1).
    #[error("the durable record names {named} as primary, but this gate is node {gate}'s")]
    WrongNode {
        /// The node the record names.
        named: NodeId,
        /// The gate's node.
        gate: NodeId,
    },
    /// The grant was minted by another store handle than the one it is used with.
    #[error("the grant was minted by another store handle; use it with the store that made it")]
    OtherStore,
    /// The durable authority is no longer the record the grant names: a newer epoch (the gate
    /// now follows it), or a record that vanished or went back (P6-A1).
    #[error(
        "the grant names epoch {granted}, but the durable authority is now {}; it is no longer usable",
        durable.map_or_else(|| "absent".to_owned(), |e| format!("epoch {e}"))
    )]
    Superseded {
        /// The epoch the grant names.
        granted: Epoch,
        /// The durable epoch now, if any.
        durable: Option<Epoch>,
    },
    /// The store could not be read to confirm the grant is still current.
    #[error("the durable authority could not be read to confirm the grant: {0}")]
    Store(#[source] StoreError),
    /// Phase 5 refuses the role change.
    #[error(transparent)]
    Role(#[from] RoleChangeError),
    /// The gate refuses the epoch.
    #[error(transparent)]
    Gate(#[from] GateError),
}

impl PrimaryGrant {
    /// Stage 6.5: `gate`, which must be the named node's, becomes the primary's at the record's
    /// epoch, and the node's role (a replica, or uninitialized at restart) becomes
    /// `PrimaryActive`, which is returned — only if the record is still `store`'s durable
    /// authority, read now (linearizably, for a store that can), and `store` is the handle that
    /// minted the grant. Consumes the grant, succeed or fail (P6-A1, P6-A3).
    pub fn rebind<St: AuthorityStore + ?Sized>(
        self,
        role: ReplicationState,
        gate: &WriteGate,
        store: &St,
    ) -> Result<ReplicationState, RebindError> {
        if gate.node() != self.node() {
            return Err(RebindError::WrongNode { named: self.node(), gate: gate.node() });
        }
        if !self.slot.same(store.slot()) {
            return Err(RebindError::OtherStore);
        }
        let durable = store.load().map_err(RebindError::Store)?;
        if durable.as_ref() != Some(&self.record) {
            let durable = durable.map(|r| r.epoch());
            if let Some(newer) = durable {
                gate.observe_epoch(newer);
            }
            return Err(RebindError::Superseded { granted: self.epoch(), durable });
        }
        role.check_becoming_primary()?;
        gate.assume_primary(self.epoch())?;
        Ok(ReplicationState::PrimaryActive)
    }
}
