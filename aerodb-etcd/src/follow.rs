//! A node following the authority key: each poll reads it linearizably and makes the node's
//! write gate observe the durable epoch, so an old primary fences itself once a newer epoch
//! is durable (P6-A1). Fencing only ever takes authority away: how often a node polls decides
//! how soon it learns, never who may write. A follower never goes back: what it has seen is
//! the bar for every later poll.

use aerodb_promotion::{AuthorityRecord, PromotionSlot, StoreError, WriteGate};

use crate::gateway::{Connection, Gateway};
use crate::store::{call_error, check_key, read};

/// Follows the authority under one key for one node's [`WriteGate`].
pub struct AuthorityFollower {
    gateway: Gateway,
    key: String,
    /// The newest record this follower has read: no later poll may go back from it.
    seen: PromotionSlot,
}

impl std::fmt::Debug for AuthorityFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorityFollower").field("key", &self.key).finish_non_exhaustive()
    }
}

impl AuthorityFollower {
    /// A follower of `key` in the etcd cluster `connection` reaches. Takes no claim on the
    /// key and writes nothing: any number of nodes follow it, with read access to `key` and
    /// its [`highest_key`](crate::highest_key) only.
    pub fn new(connection: &Connection, key: &str) -> Result<AuthorityFollower, StoreError> {
        check_key(key)?;
        let gateway = Gateway::new(connection).map_err(|e| call_error("open", e))?;
        Ok(AuthorityFollower { gateway, key: key.to_owned(), seen: PromotionSlot::new() })
    }

    /// Reads the durable authority and makes `gate` observe its epoch: a primary below it is
    /// fenced for good, a replica follows it. Returns the record read; an error changes nothing.
    ///
    /// A record that went back (P6-A1) — older than one this follower saw or than the key's
    /// companion, another record at that epoch, or none after one (a restored snapshot, a
    /// deleted or rewritten key) — is refused with [`StoreError::WentBack`] and the event
    /// `replication.promotion.authority_went_back`, and the gate is left as it was.
    pub fn poll(&self, gate: &WriteGate) -> Result<Option<AuthorityRecord>, StoreError> {
        let record = read(&self.gateway, &self.key, &self.seen)?;
        if let Some(record) = &record {
            gate.observe_epoch(record.epoch());
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A follower is made without touching the network, and its Debug names the key it follows
    /// (an operator reading a log sees which authority), never the connection's secrets.
    #[test]
    fn a_follower_debugs_as_its_key() {
        let connection = Connection::new(vec!["http://127.0.0.1:9".to_owned()]);
        let follower = AuthorityFollower::new(&connection, "/aerodb/c1/authority").unwrap();
        let text = format!("{follower:?}");
        assert!(text.starts_with("AuthorityFollower") && text.contains("/aerodb/c1/authority"), "{text}");
    }
}
