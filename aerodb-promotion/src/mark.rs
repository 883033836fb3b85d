//! A node's durable high-water mark (P6-A1): the newest authority record the node has seen,
//! kept in the node's own directory with the authority store's framing, locking, permissions
//! and durable replace. A node that keeps one refuses any authority below it — a store that
//! went back while the node was away — and builds its gate from it
//! (`WriteGate::replica(node, mark.newest()?.as_ref())`), so no grant below it takes.

use std::path::Path;

use crate::file_store::FileAuthorityStore;
use crate::record::AuthorityRecord;
use crate::slot::WentBack;
use crate::store::{AuthorityStore, StoreError};
use crate::telemetry;

/// The newest authority record one node has seen, durably, in `<dir>/metadata/`.
#[derive(Debug)]
pub struct NodeMark {
    store: FileAuthorityStore,
}

impl NodeMark {
    /// Opens (creating if needed) the mark in `dir`, which must not be the authority's own data
    /// directory: it is locked while the mark is open.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        Ok(NodeMark { store: FileAuthorityStore::open(dir)? })
    }

    /// The newest authority this node has seen, if any.
    pub fn newest(&self) -> Result<Option<AuthorityRecord>, StoreError> {
        self.store.load()
    }

    /// Takes `record` as read from the authority: refused, with the event
    /// `replication.promotion.authority_went_back`, if it is older than the mark or another
    /// record at the mark's epoch; made the mark, durably, if newer. Call it on every authority
    /// the node reads, before acting on it.
    pub fn observe(&mut self, record: &AuthorityRecord) -> Result<(), StoreError> {
        match self.store.load()? {
            Some(newest) if &newest == record => Ok(()),
            Some(newest) if record.epoch() <= newest.epoch() => {
                telemetry::authority_went_back(&newest, Some(record));
                Err(Box::new(WentBack { seen: newest, found: Some(record.clone()) }).into())
            }
            _ => self.store.remember(record),
        }
    }
}
