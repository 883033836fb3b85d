//! The authority record under one etcd key, replaced only by an etcd transaction that compares
//! the key's revision with the one the commit checked against (P6-A1, P6-A2).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;

use aerodb_promotion::{
    AuthorityRecord, AuthorityStore, Conflict, PromotionSlot, Proposal, StoreError, check_commit,
};
use serde_json::{Value, json};

use crate::gateway::{self, CallError, Connection, Gateway, Kind, lock};

/// The longest authority key accepted.
pub const MAX_KEY_LEN: usize = 1024;

/// Authorities with an open handle in this process, as (etcd cluster id, key): one handle per
/// authority per process, so its slot keeps this process's attempts one at a time (the file
/// store's lock, for etcd).
static OPEN_KEYS: Mutex<BTreeSet<(String, String)>> = Mutex::new(BTreeSet::new());

/// The companion of the authority key `key`: its value means nothing; its revision is what
/// every bootstrap compares and every settle moves ([`EtcdAuthorityStore::open`]), so that a
/// bootstrap sent before a handle opened can never apply after it (P6-F2).
pub fn fence_key(key: &str) -> String {
    format!("{key}.fence")
}

/// The key's current value and revision, as one linearizable read saw them.
struct Current {
    /// The record's bytes; `None`: the key does not exist.
    bytes: Option<Vec<u8>>,
    /// The key's `mod_revision` (0 when absent).
    revision: u64,
}

/// An [`AuthorityStore`] in etcd v3, through its JSON gateway.
///
/// The value under the key is the framed, CRC-checked record the file store writes (same
/// bytes, same decoder). Reads are linearizable (never a possibly stale member's serializable
/// read). `commit` applies [`check_commit`] to the record it read — the whole record, so a
/// proposal whose predecessor differs at the same epoch is refused — then puts the new record
/// in one transaction that succeeds only if the key's `mod_revision` is still the one it read
/// (or, for bootstrap, the key was never created), so the record compared is the record
/// replaced: a failed compare is a [`Conflict`] (or a
/// [`PredecessorMismatch`](aerodb_promotion::PredecessorMismatch)) with nothing
/// written. No lease, TTL or session is involved: nothing here decides by time (P6-A3).
///
/// A commit whose request may have reached etcd without a definite answer (a timeout, a lost
/// connection, an etcd error that does not rule out the write) poisons the handle
/// ([`StoreError::OutcomeUnknown`], then [`StoreError::Poisoned`]); it is never retried. Only
/// a fresh handle decides old or new, and what it decides is final: [`open`](Self::open)
/// first settles every transaction sent before it, so that a late one can never apply after
/// recovery reported it not applied (P6-F2).
pub struct EtcdAuthorityStore {
    gateway: Gateway,
    /// This handle's entry in [`OPEN_KEYS`].
    claim: (String, String),
    key: String,
    slot: PromotionSlot,
    poisoned: Mutex<Option<String>>,
    /// What this handle last read or wrote: the record there and the key's revision.
    seen: Mutex<Option<Seen>>,
    /// The [`fence_key`]'s `mod_revision` as this handle last knew it: a bootstrap compares it.
    fence: Mutex<u64>,
}

/// The key's state as this handle last knew it.
#[derive(Debug, Clone)]
struct Seen {
    /// The record (`None`: no key).
    record: Option<AuthorityRecord>,
    /// The key's `mod_revision` then (0: no key).
    revision: u64,
}

impl std::fmt::Debug for EtcdAuthorityStore {
    /// The endpoints and key; never credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdAuthorityStore")
            .field("endpoints", &self.gateway.endpoints())
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

fn backend(operation: &'static str) -> impl FnOnce(String) -> StoreError {
    move |detail| StoreError::Backend { operation, detail }
}

impl EtcdAuthorityStore {
    /// Opens the authority under `key` (e.g. `/aerodb/<cluster>/authority`) in the etcd cluster
    /// `connection` reaches, authenticating and reading it once, so that unreachable endpoints,
    /// bad credentials and untrusted certificates fail here, with nothing written; then settles
    /// every transaction sent to the key before, so that none can apply after this handle has
    /// read (P6-F2): one write that puts the record back unchanged if its revision is still the
    /// one just read, and moves the [`fence_key`] either way (docs/ETCD.md, "Settling unknown
    /// outcomes"). The user needs read and write access to `key` and to its [`fence_key`] (both
    /// under the prefix `key`).
    pub fn open(connection: &Connection, key: &str) -> Result<EtcdAuthorityStore, StoreError> {
        check_key(key)?;
        let gateway = Gateway::new(connection).map_err(|e| call_error("open", e))?;
        let (current, cluster) = range(&gateway, key)?;
        let claim = (cluster, key.to_owned());
        if !lock(&OPEN_KEYS).insert(claim.clone()) {
            return Err(StoreError::Locked { path: PathBuf::from(key) });
        }
        let store = EtcdAuthorityStore {
            gateway,
            claim,
            key: key.to_owned(),
            slot: PromotionSlot::new(),
            poisoned: Mutex::new(None),
            seen: Mutex::new(None),
            fence: Mutex::new(0),
        };
        store.settle(current)?;
        Ok(store)
    }

    /// P6-F2 for etcd, enforced here alone: no transaction sent to this authority before this
    /// handle opened — by a handle its unknown outcome poisoned, a controller that was killed,
    /// any process — can apply after it. Whatever this handle then reads is final, so recovery
    /// never reports "not applied" for a transaction that lands later.
    ///
    /// A fresh handle cannot know which transaction is pending or what revision it compares;
    /// it need not. Every commit compares the key's `mod_revision` it read, and every bootstrap
    /// the [`fence_key`]'s, each read linearizably before it was sent, so no later than
    /// `current`, this handle's own linearizable read: one transaction that moves both past
    /// `current` makes every such compare fail for good (revisions only grow). It compares the
    /// key's `mod_revision` with `current`'s; if equal it puts the same bytes back (or, with no
    /// key, nothing), if not the key has moved already; either way it puts the fence key. So
    /// a pending commit either applied before this (this handle reads its record) or never
    /// will. The authority itself is unchanged: the same bytes, or none.
    ///
    /// An unknown outcome of this write leaves the authority as it was but settles nothing:
    /// the open fails (open again); it does not poison anything.
    fn settle(&self, current: Current) -> Result<(), StoreError> {
        let key = gateway::encode(self.key.as_bytes());
        let put_fence = json!({"request_put": {
            "key": gateway::encode(fence_key(&self.key).as_bytes()),
            "value": gateway::encode(b"settles every transaction sent before it"),
        }});
        let mut success = vec![put_fence.clone()];
        if let Some(bytes) = &current.bytes {
            success.push(json!({"request_put": {"key": key, "value": gateway::encode(bytes)}}));
        }
        let transaction = json!({
            "compare": [{"key": key, "target": "MOD", "result": "EQUAL", "mod_revision": current.revision.to_string()}],
            "success": success,
            "failure": [put_fence, {"request_range": {"key": key}}],
        });
        let settling = |detail: String| StoreError::Backend {
            operation: "open",
            detail: format!(
                "settling the transactions sent to {} before this handle (one write that leaves the \
                 authority unchanged, to it and to {}): {detail}",
                self.key,
                fence_key(&self.key)
            ),
        };
        let answer = match self.gateway.call("/v3/kv/txn", &transaction, Kind::Write) {
            Ok(answer) => answer,
            Err(CallError::Unknown(detail)) => {
                return Err(settling(format!("no answer says whether it applied ({detail}); open again")));
            }
            Err(other) => return Err(settling(other.to_string())),
        };
        let revision = gateway::int(answer.pointer("/header/revision")).map_err(&settling)?;
        let after = if answer.get("succeeded").and_then(Value::as_bool) == Some(true) {
            let revision = if current.bytes.is_some() { revision } else { 0 };
            Current { bytes: current.bytes, revision }
        } else {
            // proto3 JSON omits `succeeded: false`: only the failure branch's read says it failed.
            let Some(found) = answer.pointer("/responses/1/response_range") else {
                return Err(settling(format!("etcd answered with neither outcome: {answer:.200}")));
            };
            current_of(found.get("kvs")).map_err(&settling)?
        };
        if revision == 0 {
            return Err(settling("etcd answered without the transaction's revision".to_owned()));
        }
        *lock(&self.fence) = revision;
        // A corrupt record is left for `load` and `commit` to report (P6-F1).
        let record = match after.bytes {
            None => Some(None),
            Some(bytes) => self.decode(&bytes).ok().map(Some),
        };
        *lock(&self.seen) = record.map(|record| Seen { record, revision: after.revision });
        Ok(())
    }

    /// The authority key.
    pub fn key(&self) -> &str {
        &self.key
    }

    fn check_poisoned(&self) -> Result<(), StoreError> {
        match &*lock(&self.poisoned) {
            Some(cause) => Err(StoreError::Poisoned(cause.clone())),
            None => Ok(()),
        }
    }

    /// One linearizable read of the key: the record there, remembered as what this handle saw.
    fn current(&self) -> Result<Seen, StoreError> {
        let (current, _cluster) = range(&self.gateway, &self.key)?;
        let record = current.bytes.map(|bytes| self.decode(&bytes)).transpose()?;
        let seen = Seen { record, revision: current.revision };
        *lock(&self.seen) = Some(seen.clone());
        Ok(seen)
    }

    fn decode(&self, bytes: &[u8]) -> Result<AuthorityRecord, StoreError> {
        decode(&self.key, bytes)
    }

    /// A transaction whose outcome no answer settles: the handle is poisoned (P6-F3).
    fn unknown(&self, detail: String) -> StoreError {
        *lock(&self.poisoned) = Some(detail.clone());
        StoreError::OutcomeUnknown { detail }
    }
}

/// Reads the authority under `key` once, linearizably, without opening a handle (so without
/// claiming the key in this process), for inspection tools. A controller opens the store.
pub fn read_record(connection: &Connection, key: &str) -> Result<Option<AuthorityRecord>, StoreError> {
    check_key(key)?;
    let gateway = Gateway::new(connection).map_err(|e| call_error("open", e))?;
    read(&gateway, key)
}

/// The record under `key`, read once, linearizably.
pub(crate) fn read(gateway: &Gateway, key: &str) -> Result<Option<AuthorityRecord>, StoreError> {
    range(gateway, key)?.0.bytes.map(|bytes| decode(key, &bytes)).transpose()
}

/// One linearizable read of `key` (etcd's default range: never a serializable read): the key's
/// state and the id of the etcd cluster that answered.
fn range(gateway: &Gateway, key: &str) -> Result<(Current, String), StoreError> {
    let answer = gateway
        .call("/v3/kv/range", &json!({"key": gateway::encode(key.as_bytes())}), Kind::Read)
        .map_err(|e| call_error("read", e))?;
    let cluster = answer.pointer("/header/cluster_id").and_then(Value::as_str).ok_or_else(|| {
        StoreError::Backend { operation: "read", detail: "etcd answered without a cluster id".to_owned() }
    })?;
    Ok((current_of(answer.get("kvs")).map_err(backend("read"))?, cluster.to_owned()))
}

pub(crate) fn check_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
        return Err(StoreError::Backend {
            operation: "open",
            detail: format!("the authority key must be 1 to {MAX_KEY_LEN} bytes without control characters"),
        });
    }
    Ok(())
}

/// The record in `bytes` read from `key`; bytes that fail any check are corrupt (P6-F1).
fn decode(key: &str, bytes: &[u8]) -> Result<AuthorityRecord, StoreError> {
    AuthorityRecord::from_bytes(bytes)
        .map_err(|error| StoreError::Corrupt { path: PathBuf::from(key), error })
}

/// The key's value and revision from a range answer's `kvs` (absent or empty: no key).
fn current_of(kvs: Option<&Value>) -> Result<Current, String> {
    let kvs = match kvs {
        None => return Ok(Current { bytes: None, revision: 0 }),
        Some(Value::Array(kvs)) => kvs,
        Some(other) => return Err(format!("etcd answered {other} for the key's values")),
    };
    match kvs.as_slice() {
        [] => Ok(Current { bytes: None, revision: 0 }),
        [kv] => {
            // proto3 JSON omits an empty value.
            let bytes = gateway::decode(kv.get("value").and_then(Value::as_str).unwrap_or(""))?;
            let revision = gateway::int(kv.get("mod_revision"))?;
            if revision == 0 {
                return Err("etcd answered a key without a revision".to_owned());
            }
            Ok(Current { bytes: Some(bytes), revision })
        }
        more => Err(format!("etcd answered {} values for one key", more.len())),
    }
}

/// A call that failed with no effect on the store (reads, and writes etcd refused or never got).
pub(crate) fn call_error(operation: &'static str, error: CallError) -> StoreError {
    StoreError::Backend { operation, detail: error.to_string() }
}

impl AuthorityStore for EtcdAuthorityStore {
    fn load(&self) -> Result<Option<AuthorityRecord>, StoreError> {
        self.check_poisoned()?;
        let record = self.current()?.record;
        self.slot.admit_loaded(record.as_ref())?;
        Ok(record)
    }

    fn commit(&mut self, proposal: &Proposal) -> Result<(), StoreError> {
        self.check_poisoned()?;
        // The state to compare against: "no key" for a first record; otherwise what this handle
        // last read (the commit edge loads just before committing). `check_commit` compares
        // the whole record with the proposal's predecessor, and the transaction below applies
        // only at the revision that record was read at, so the record compared is the record
        // replaced (P6-A1). A stale state only makes the compare fail, writing nothing. A
        // refusal is always decided on a fresh read, so it reports the durable state (a
        // corrupt record is `Corrupt`, P6-F1).
        let cached = match proposal.expected() {
            None => Some(Seen { record: None, revision: 0 }),
            Some(_) => lock(&self.seen).clone(),
        };
        let seen = match cached.filter(|seen| check_commit(seen.record.as_ref(), proposal).is_ok()) {
            Some(seen) => seen,
            None => {
                let seen = self.current()?;
                check_commit(seen.record.as_ref(), proposal)?;
                seen
            }
        };
        let bytes = proposal.record().to_bytes()?;
        let key = gateway::encode(self.key.as_bytes());
        // The key is exactly as seen: never created, or not modified since (P6-A1). A bootstrap
        // also compares the fence key's revision, so that a handle opened later can settle it
        // (P6-F2): with no key, there is no revision of the key's to move.
        let fence = gateway::encode(fence_key(&self.key).as_bytes());
        let (compare, failure) = match seen.record {
            None => (
                json!([
                    {"key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0"},
                    {"key": fence, "target": "MOD", "result": "EQUAL", "mod_revision": lock(&self.fence).to_string()},
                ]),
                json!([{"request_range": {"key": key}}, {"request_range": {"key": fence}}]),
            ),
            Some(_) => (
                json!([{"key": key, "target": "MOD", "result": "EQUAL", "mod_revision": seen.revision.to_string()}]),
                json!([{"request_range": {"key": key}}]),
            ),
        };
        let transaction = json!({
            "compare": compare,
            "success": [{"request_put": {"key": key, "value": gateway::encode(&bytes)}}],
            "failure": failure,
        });
        let answer = match self.gateway.call("/v3/kv/txn", &transaction, Kind::Write) {
            Ok(answer) => answer,
            Err(CallError::Unknown(detail)) => return Err(self.unknown(detail)),
            Err(other) => return Err(call_error("commit", other)),
        };
        if answer.get("succeeded").and_then(Value::as_bool) == Some(true) {
            // Durable. The put is the transaction's only write, so the key's revision is the
            // answer's; an answer without it only costs the next commit a fresh read.
            let revision = gateway::int(answer.pointer("/header/revision")).ok().filter(|r| *r > 0);
            *lock(&self.seen) =
                revision.map(|revision| Seen { record: Some(proposal.record().clone()), revision });
            self.slot.note_committed(proposal.record());
            return Ok(());
        }
        // "Nothing was written" only on the answer of the failure branch, which reads the key;
        // any other answer settles nothing (proto3 JSON omits `succeeded: false`, so its absence
        // alone proves nothing).
        let Some(failure) = answer.pointer("/responses/0/response_range") else {
            return Err(
                self.unknown(format!("etcd answered a transaction with neither outcome: {answer:.200}"))
            );
        };
        // A bootstrap's failure also reads the fence key: a handle opened since moved it, and
        // the next bootstrap compares its revision now.
        if let Some(fence) = answer.pointer("/responses/1/response_range") {
            let fence = current_of(fence.get("kvs")).map_err(backend("commit"))?;
            *lock(&self.fence) = fence.revision;
        }
        let found = current_of(failure.get("kvs")).map(|c| c.bytes).map_err(backend("commit"))?;
        let found = found.as_deref().map(|b| self.decode(b)).transpose()?;
        // What changed, by the same rule: another epoch, or another record at the same epoch.
        check_commit(found.as_ref(), proposal)?;
        // The same record, put again since it was read (a new revision): the compare failed all
        // the same, and nothing was written.
        let found = found.as_ref().map(AuthorityRecord::epoch);
        Err(StoreError::Conflict(Conflict { expected: proposal.expected(), found }))
    }

    fn slot(&self) -> &PromotionSlot {
        &self.slot
    }
}

impl Drop for EtcdAuthorityStore {
    fn drop(&mut self) {
        lock(&OPEN_KEYS).remove(&self.claim);
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, TcpListener};
    use std::time::Duration;

    use aerodb_core::NodeId;

    use super::*;
    use crate::local::{OnTransaction, ScriptedGateway};

    /// A scripted gateway on a loopback port finding no key; transactions get `on_txn`.
    fn scripted(on_txn: OnTransaction, requests: usize) -> (String, ScriptedGateway) {
        let gateway = ScriptedGateway::start(None, on_txn, requests).unwrap();
        (gateway.endpoint().to_owned(), gateway)
    }

    fn node() -> NodeId {
        NodeId::new("n0").unwrap()
    }

    /// A transaction sent and never answered: the outcome is unknown, the handle poisoned, and
    /// nothing is retried (one transaction reached the server).
    #[test]
    fn an_unanswered_commit_poisons_the_handle_and_is_not_retried() {
        let (endpoint, server) = scripted(OnTransaction::HangUp, 2);
        let connection = Connection::new(vec![endpoint]).with_timeout(Duration::from_secs(2));
        let mut store = EtcdAuthorityStore::open(&connection, "/aerodb/t1/authority").unwrap();
        let error = store.bootstrap(node()).unwrap_err();
        assert!(matches!(error, StoreError::OutcomeUnknown { .. }), "{error}");
        assert!(matches!(store.load(), Err(StoreError::Poisoned(_))));
        assert!(matches!(store.bootstrap(node()), Err(StoreError::Poisoned(_))));
        drop(store);
        assert_eq!(server.finish(), ["/v3/kv/range", ScriptedGateway::SETTLE, "/v3/kv/txn"]);
    }

    /// An answer that says neither "applied" nor "compare failed" settles nothing: the outcome
    /// is unknown and the handle poisoned, never read as a conflict.
    #[test]
    fn an_answer_with_neither_outcome_is_an_unknown_outcome() {
        let (endpoint, server) = scripted(OnTransaction::Unrecognized, 2);
        let mut store =
            EtcdAuthorityStore::open(&Connection::new(vec![endpoint]), "/aerodb/t8/authority").unwrap();
        let error = store.bootstrap(node()).unwrap_err();
        assert!(matches!(error, StoreError::OutcomeUnknown { .. }), "{error}");
        assert!(matches!(store.load(), Err(StoreError::Poisoned(_))));
        drop(store);
        server.finish();
    }

    /// An applied transaction is a commit even when its answer lacks the revision.
    #[test]
    fn an_applied_commit_without_a_revision_is_still_committed() {
        let (endpoint, server) = scripted(OnTransaction::AppliedWithoutRevision, 2);
        let mut store =
            EtcdAuthorityStore::open(&Connection::new(vec![endpoint]), "/aerodb/t9/authority").unwrap();
        assert_eq!(store.bootstrap(node()).unwrap().epoch(), aerodb_core::Epoch::INITIAL);
        drop(store);
        server.finish();
    }

    /// etcd refusing a transaction rules out its effect: a plain error, the handle usable.
    #[test]
    fn a_refused_commit_is_an_error_without_poison() {
        let (endpoint, server) = scripted(OnTransaction::Unauthenticated, 3);
        let connection = Connection::new(vec![endpoint]);
        let mut store = EtcdAuthorityStore::open(&connection, "/aerodb/t2/authority").unwrap();
        let error = store.bootstrap(node()).unwrap_err();
        assert!(
            matches!(&error, StoreError::Backend { operation: "commit", detail } if detail.contains("invalid auth token")),
            "{error}"
        );
        assert!(matches!(store.load(), Ok(None)));
        drop(store);
        assert_eq!(server.finish(), ["/v3/kv/range", ScriptedGateway::SETTLE, "/v3/kv/txn", "/v3/kv/range"]);
    }

    /// An endpoint that refuses connections is skipped, for reads and for writes never sent.
    #[test]
    fn an_unreachable_endpoint_fails_over_to_the_next() {
        let closed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let dead = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let (endpoint, server) = scripted(OnTransaction::HangUp, 2);
        let store =
            EtcdAuthorityStore::open(&Connection::new(vec![dead.clone(), endpoint]), "/aerodb/t3/authority");
        assert!(store.is_ok(), "{store:?}");
        drop(store);
        assert_eq!(server.finish(), ["/v3/kv/range", ScriptedGateway::SETTLE]);
        let error =
            EtcdAuthorityStore::open(&Connection::new(vec![dead]), "/aerodb/t4/authority").unwrap_err();
        assert!(matches!(error, StoreError::Backend { operation: "read", .. }), "{error}");
    }

    /// One handle per key per process; bad keys and endpoints are refused before any request.
    #[test]
    fn bad_settings_and_second_handles_are_refused() {
        for key in ["", "/a\n", &"k".repeat(MAX_KEY_LEN + 1)] {
            assert!(
                EtcdAuthorityStore::open(&Connection::new(vec!["http://127.0.0.1:1".into()]), key).is_err()
            );
        }
        for endpoint in ["127.0.0.1:2379", "http://127.0.0.1:2379/", "https://127.0.0.1:2379", "ftp://x"] {
            let error = EtcdAuthorityStore::open(&Connection::new(vec![endpoint.into()]), "/k").unwrap_err();
            assert!(matches!(error, StoreError::Backend { operation: "open", .. }), "{endpoint}: {error}");
        }
        assert!(EtcdAuthorityStore::open(&Connection::new(vec![]), "/k").is_err());
        let (endpoint, server) = scripted(OnTransaction::HangUp, 2);
        let connection = Connection::new(vec![endpoint]);
        let first = EtcdAuthorityStore::open(&connection, "/aerodb/t5/authority").unwrap();
        assert!(matches!(
            EtcdAuthorityStore::open(&connection, "/aerodb/t5/authority"),
            Err(StoreError::Locked { .. })
        ));
        drop(first);
        server.finish();
    }

    /// An async consumer may call the store from inside a tokio runtime, on a runtime thread or
    /// through `spawn_blocking`: it is blocking I/O with no runtime of its own, so nothing panics.
    #[test]
    fn a_tokio_runtime_may_call_it() {
        let (endpoint, server) = scripted(OnTransaction::HangUp, 2);
        let connection = Connection::new(vec![endpoint]);
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
        runtime.block_on(async {
            let inline = EtcdAuthorityStore::open(&connection, "/aerodb/t6/authority").unwrap();
            assert!(matches!(inline.load(), Ok(None)));
        });
        drop(runtime);
        server.finish();
        let (endpoint, server) = scripted(OnTransaction::HangUp, 2);
        let connection = Connection::new(vec![endpoint]);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let opened = runtime.block_on(async move {
            tokio::task::spawn_blocking(move || {
                EtcdAuthorityStore::open(&connection, "/aerodb/t7/authority").is_ok()
            })
            .await
            .unwrap()
        });
        assert!(opened);
        server.finish();
    }

    #[test]
    fn range_answers_are_read_strictly() {
        assert_eq!(current_of(None).unwrap().bytes, None);
        let one = serde_json::json!([{"key": "L2s=", "value": "aGk=", "mod_revision": "7"}]);
        let current = current_of(Some(&one)).unwrap();
        assert_eq!((current.bytes.as_deref(), current.revision), (Some(&b"hi"[..]), 7));
        for bad in [
            serde_json::json!([{"key": "L2s=", "value": "aGk="}]),
            serde_json::json!([{"key": "L2s=", "value": "!!", "mod_revision": "7"}]),
            serde_json::json!([{"key": "L2s=", "value": "aGk=", "mod_revision": "x"}]),
            serde_json::json!([{}, {}]),
            serde_json::json!({"kvs": 1}),
        ] {
            assert!(current_of(Some(&bad)).is_err(), "{bad}");
        }
    }

    /// A user's password over plain `http://` is refused before any request, unless allowed
    /// explicitly (P6-F1); over `https://` it needs TLS settings anyway.
    #[test]
    fn a_password_over_plain_http_is_refused_unless_allowed() {
        let (endpoint, server) = scripted(OnTransaction::HangUp, 3);
        let plain = Connection::new(vec![endpoint]).with_user("root", "s3cret");
        let error = EtcdAuthorityStore::open(&plain, "/aerodb/t10/authority").unwrap_err();
        assert!(
            matches!(&error, StoreError::Backend { operation: "open", detail } if detail.contains("plain http")),
            "{error}"
        );
        let allowed = plain.with_plaintext_password_allowed();
        // The scripted gateway answers the authentication without a token: refused, but only
        // after the password was sent, as allowed.
        let error = EtcdAuthorityStore::open(&allowed, "/aerodb/t10/authority").unwrap_err();
        assert!(error.to_string().contains("without a token"), "{error}");
        assert_eq!(server.finish(), ["/v3/auth/authenticate"]);
        assert!(format!("{allowed:?}").contains("allow_plaintext_password: true"));
    }

    /// Each authority has its own fence key, under the authority key's prefix (so that one
    /// prefix permission covers both, as docs/ETCD.md tells operators).
    #[test]
    fn the_fence_key_is_the_authority_key_dot_fence() {
        assert_eq!(fence_key("/aerodb/c1/authority"), "/aerodb/c1/authority.fence");
        assert_ne!(fence_key("/aerodb/c1/authority"), fence_key("/aerodb/c2/authority"));
    }

    #[test]
    fn debug_never_shows_the_password() {
        let connection = Connection::new(vec!["http://127.0.0.1:1".into()]).with_user("root", "s3cret");
        assert!(!format!("{connection:?}").contains("s3cret"));
    }
}
