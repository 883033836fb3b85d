//! Recovery: durable state → `Promotion<Steady>` plus the authority it holds (P6-F2, P6-D2).
//!
//! Transient states are never persisted, so every restart begins in `Steady`; the authority is
//! exactly what the record says — none, a valid record, or an error. Recovery never decides.

use crate::gate::PrimaryGrant;
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
    pub grant: Option<PrimaryGrant>,
}

/// Reads the durable authority of `store`. The same bytes always give the same result (P6-D2);
/// a record that fails any check is an error, never read as old or new (P6-F1).
pub fn recover<St: AuthorityStore + ?Sized>(store: &St) -> Result<Recovered, StoreError> {
    let authority = store.load()?;
    if let Some(record) = &authority {
        store.slot().metrics().set_primary(record.primary());
    }
    let grant = authority.as_ref().map(PrimaryGrant::of);
    Ok(Recovered { steady: Promotion::new(store.slot()), authority, grant })
}
