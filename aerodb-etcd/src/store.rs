//! The authority record under one etcd key, replaced only by an etcd transaction that compares
//! the key's revision with the one the commit checked against (P6-A1, P6-A2), with a companion
//! high-water key written in the same transaction, so the authority never goes back unseen.

use std::collections::BTreeSet;
use std::sync::Mutex;

use aerodb_core::{Epoch, Lsn, NodeId};
use aerodb_promotion::{
    AuthorityRecord, AuthorityStore, Conflict, Location, Poison, PrimaryReport, PromotionSlot, Proposal,
    ReportRefusal, StoreError, check_commit, check_evidence, check_report, start_over_record,
};
use serde_json::{Value, json};

use crate::gateway::{self, CallError, Connection, Gateway, Kind, lock};

/// The longest authority key accepted. Its companions ([`fence_key`], [`highest_key`],
/// [`report_key`]) are at most 8 bytes longer, far inside etcd's request size limit.
pub const MAX_KEY_LEN: usize = 1024;

/// Authorities with an open handle in this process, as (etcd cluster id, key): one handle per
/// authority per process, so its slot keeps this process's attempts one at a time (the file
/// store's lock, for etcd).
static OPEN_KEYS: Mutex<BTreeSet<(String, String)>> = Mutex::new(BTreeSet::new());

/// The companion of the authority key `key`: its value means nothing; its revision is what
/// every bootstrap and start-over compares and every settle moves ([`EtcdAuthorityStore::open`]),
/// so that such a transaction sent before a handle opened can never apply after it (P6-F2).
/// Every open moves it: its existence says nothing about a past authority.
pub fn fence_key(key: &str) -> String {
    format!("{key}.fence")
}

/// The high-water companion of the authority key `key`: the same record bytes, put in the same
/// transaction as the record by every bootstrap, commit and start-over, so it holds the newest
/// record this authority ever had. Every reader checks the record against it (P6-A1): a key
/// deleted, rewritten with older bytes, or with another record at the companion's epoch, is
/// refused as gone back, and bootstrap requires that it never existed.
pub fn highest_key(key: &str) -> String {
    format!("{key}.highest")
}

/// The key of the primary's report kept beside the authority key `key`
/// ([`PrimaryReport`], [`AuthorityStore::swap_report`]): its framed bytes (magic `AERODBPR`),
/// replaced only by a transaction that compares its `mod_revision` and those of the authority
/// key and its [`highest_key`] with the ones the swap checked ([`check_report`]). Under the
/// prefix `key`, like the other companions, so the same prefix permission covers it.
pub fn report_key(key: &str) -> String {
    format!("{key}.report")
}

/// One key's value and revision, as one linearizable read saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Current {
    /// The value; `None`: the key does not exist.
    bytes: Option<Vec<u8>>,
    /// The key's `mod_revision` (0 when absent).
    revision: u64,
}

/// The authority key and its [`highest_key`], read at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pair {
    record: Current,
    highest: Current,
}

/// An [`AuthorityStore`] in etcd v3, through its JSON gateway.
///
/// The value under the key is the framed, CRC-checked record the file store writes (same
/// bytes, same decoder); its [`highest_key`] holds the same bytes, written in the same
/// transaction. Reads are linearizable (never a possibly stale member's serializable read) and
/// read both keys at one revision; a record below its companion, beside it at its epoch, or
/// missing while it exists went back ([`StoreError::WentBack`], P6-A1). `commit` applies
/// [`check_commit`] to the record it read — the whole record, so a proposal whose predecessor
/// differs at the same epoch is refused — then puts the new record and its companion in one
/// transaction that succeeds only if both keys' `mod_revision`s are still the ones it read
/// (or, for bootstrap, neither key was ever created), so the record compared is the record
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
///
/// The primary's report ([`PrimaryReport`]) lives under its own [`report_key`], in the same
/// frame the file store writes to `metadata/primary.report`. `swap_report` reads the record,
/// its companion and the report at one revision, applies [`check_report`], and puts the report
/// in one transaction that compares all three keys' revisions with the ones read (the
/// report's: never created, when there was none): the same compare-and-swap, the same
/// unknown-outcome poisoning, as a commit. A commit whose proposal rests on the report
/// ([`check_evidence`]) reads it first and compares its revision in the commit's transaction
/// too, so it applies only beside the very report it was approved on.
pub struct EtcdAuthorityStore {
    gateway: Gateway,
    /// This handle's entry in [`OPEN_KEYS`].
    claim: (String, String),
    key: String,
    slot: PromotionSlot,
    poisoned: Poison,
    /// What this handle last read or wrote: the record there and both keys' revisions.
    seen: Mutex<Option<Seen>>,
    /// The [`fence_key`]'s `mod_revision` as this handle last knew it: a bootstrap compares it.
    fence: Mutex<u64>,
}

/// The keys' state as this handle last knew it.
#[derive(Debug, Clone)]
struct Seen {
    /// The record (`None`: no key).
    record: Option<AuthorityRecord>,
    /// The key's `mod_revision` then (0: no key).
    revision: u64,
    /// The [`highest_key`]'s `mod_revision` then (0: no companion).
    highest_revision: u64,
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
    /// outcomes"). A record without its [`highest_key`] (a store written before the companion
    /// existed, or by a writer without it) gets one in that write. The handle starts from the
    /// companion: whatever it loads from now on may not go back from it (P6-A1); a record that
    /// already went back opens, and is refused by [`load`](AuthorityStore::load) and commits
    /// ([`start_over`](Self::start_over) is the way on). The user needs read and write access to
    /// `key`, its [`fence_key`], its [`highest_key`] and its [`report_key`] (all under the prefix
    /// `key`).
    pub fn open(connection: &Connection, key: &str) -> Result<EtcdAuthorityStore, StoreError> {
        check_key(key)?;
        let gateway = Gateway::new(connection).map_err(|e| call_error("open", e))?;
        let (current, cluster) = read_pair(&gateway, key)?;
        let claim = (cluster, key.to_owned());
        if !lock(&OPEN_KEYS).insert(claim.clone()) {
            return Err(StoreError::Locked { location: Location::key(key) });
        }
        let store = EtcdAuthorityStore {
            gateway,
            claim,
            key: key.to_owned(),
            slot: PromotionSlot::new(),
            poisoned: Poison::new(),
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
    /// and start-over the [`fence_key`]'s, each read linearizably before it was sent, so no
    /// later than `current`, this handle's own linearizable read: one transaction that moves
    /// both past `current` makes every such compare fail for good (revisions only grow). It
    /// compares the key's `mod_revision` with `current`'s; if equal it puts the same bytes back
    /// (or, with no key, nothing), if not the key has moved already; either way it puts the
    /// fence key. So a pending commit either applied before this (this handle reads its
    /// record) or never will. The authority itself is unchanged: the same bytes, or none.
    ///
    /// The same write brings the [`highest_key`] up to a record that decodes and is newer than
    /// it, or that has none (a store from before the companion): from then on that record is
    /// the bar. The handle's slot starts from the companion (P6-A1).
    ///
    /// An unknown outcome of this write leaves the authority as it was but settles nothing:
    /// the open fails (open again); it does not poison anything.
    fn settle(&self, current: Pair) -> Result<(), StoreError> {
        let key = gateway::encode(self.key.as_bytes());
        let highest_key = highest_key(&self.key);
        let put_fence = json!({"request_put": {
            "key": gateway::encode(fence_key(&self.key).as_bytes()),
            "value": gateway::encode(b"settles every transaction sent before it"),
        }});
        let raise = raises_companion(&self.key, &current);
        let mut success = vec![put_fence.clone()];
        if let Some(bytes) = &current.record.bytes {
            success.push(json!({"request_put": {"key": key, "value": gateway::encode(bytes)}}));
            if raise {
                success.push(json!({"request_put": {
                    "key": gateway::encode(highest_key.as_bytes()),
                    "value": gateway::encode(bytes),
                }}));
            }
        }
        let transaction = json!({
            "compare": [{"key": key, "target": "MOD", "result": "EQUAL", "mod_revision": current.record.revision.to_string()}],
            "success": success,
            "failure": [
                put_fence,
                {"request_range": {"key": key}},
                {"request_range": {"key": gateway::encode(highest_key.as_bytes())}},
            ],
        });
        let settling = |detail: String| StoreError::Backend {
            operation: "open",
            detail: format!(
                "settling the transactions sent to {} before this handle (one write that leaves the \
                 authority unchanged, to it, {} and {}): {detail}",
                self.key,
                fence_key(&self.key),
                highest_key,
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
            let record_revision = if current.record.bytes.is_some() { revision } else { 0 };
            let highest = match (&current.record.bytes, raise) {
                (Some(bytes), true) => Current { bytes: Some(bytes.clone()), revision },
                _ => current.highest,
            };
            Pair { record: Current { bytes: current.record.bytes, revision: record_revision }, highest }
        } else {
            // proto3 JSON omits `succeeded: false`: only the failure branch's reads say it failed.
            if answer.pointer("/responses/1/response_range").is_none() {
                return Err(settling(format!("etcd answered with neither outcome: {answer:.200}")));
            }
            pair_at(&answer, 1).map_err(&settling)?
        };
        if revision == 0 {
            return Err(settling("etcd answered without the transaction's revision".to_owned()));
        }
        *lock(&self.fence) = revision;
        // A corrupt record or companion is left for `load` and `commit` to report (P6-F1), a
        // record that went back likewise (P6-A1): the handle opens, so that an operator can
        // start over through it.
        let record = after.record.bytes.as_deref().map(|bytes| self.decode(bytes)).transpose();
        let highest = after.highest.bytes.as_deref().map(|b| decode(&highest_key, b)).transpose();
        if let Ok(Some(highest)) = &highest {
            // A fresh slot refuses nothing: this only sets the bar.
            self.slot.admit_loaded(Some(highest))?;
        }
        if let (Ok(record), Ok(_)) = (record, highest) {
            *lock(&self.seen) = Some(Seen {
                record,
                revision: after.record.revision,
                highest_revision: after.highest.revision,
            });
        }
        Ok(())
    }

    /// The authority key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Starts the authority over after a real loss — the operator's explicit command, never an
    /// automatic one (P6-A3): `primary` leads epoch `above + 1` from `start`, recorded with
    /// `reason`, with no earlier history (as
    /// [`FileAuthorityStore::start_over`](aerodb_promotion::FileAuthorityStore::start_over)).
    /// `above` must be at least every epoch the key and its [`highest_key`] still hold (as far
    /// as they decode: a lost or corrupt one counts as unknown, and the start-over rests on
    /// `above`) and should be at least every epoch any node reports (their marks, their
    /// timelines): the new authority then sorts above everything that was, and every reader
    /// takes it as newer.
    ///
    /// One transaction puts the record and its companion, comparing the `mod_revision`s of the
    /// key and the companion it read just before and of the [`fence_key`], so it never races a
    /// commit, another start-over or a handle that opened since (P6-A1, P6-F2). Refused with
    /// [`StoreError::StartOver`] without a reason, below what the keys hold, or when the keys
    /// changed since they were read; nothing written. An unknown outcome poisons the handle like
    /// a commit's: open again and look.
    ///
    /// Start over through a fresh handle (as `aerodb-promote start-over` does): a handle that
    /// saw an epoch above the new one keeps refusing it as gone back.
    pub fn start_over(
        &mut self,
        primary: NodeId,
        above: Epoch,
        start: Lsn,
        reason: &str,
    ) -> Result<AuthorityRecord, StoreError> {
        self.poisoned.check()?;
        let highest_key = highest_key(&self.key);
        let (current, _cluster) = read_pair(&self.gateway, &self.key)?;
        let held = [(self.key.as_str(), &current.record), (highest_key.as_str(), &current.highest)]
            .into_iter()
            .filter_map(|(key, value)| value.bytes.as_deref().and_then(|bytes| decode(key, bytes).ok()))
            .map(|record| record.epoch())
            .max();
        let record = start_over_record(primary, above, held, start, reason)?;
        let fence_revision = *lock(&self.fence);
        let compare = |key: &str, highest: &str, fence: &str| {
            vec![
                json!({"key": key, "target": "MOD", "result": "EQUAL", "mod_revision": current.record.revision.to_string()}),
                json!({"key": highest, "target": "MOD", "result": "EQUAL", "mod_revision": current.highest.revision.to_string()}),
                json!({"key": fence, "target": "MOD", "result": "EQUAL", "mod_revision": fence_revision.to_string()}),
            ]
        };
        let Some(answer) = self.put_with_companion(compare, &record, None, "start over")? else {
            return Ok(record);
        };
        if let Ok(fence) = range_at(&answer, 2) {
            *lock(&self.fence) = fence.revision;
        }
        Err(StoreError::StartOver(format!(
            "{} or {highest_key} changed since this start-over read them, or another handle opened \
             ({}): nothing was written; look again and run it again",
            self.key,
            fence_key(&self.key)
        )))
    }

    /// One transaction that puts `record` under the key and its companion if `compare` (given
    /// the encoded key, companion and fence keys) holds, and otherwise reads all three. `None`:
    /// durable — the handle keeps nothing of the answer but what it has seen (the commit edge
    /// loads afresh before every commit). `Some`: the failure branch's answer, nothing written.
    /// An answer with neither outcome is unknown and poisons, like no answer (P6-F2, P6-F3).
    fn put_with_companion(
        &self,
        compare: impl FnOnce(&str, &str, &str) -> Vec<Value>,
        record: &AuthorityRecord,
        evidence: Option<&Current>,
        operation: &'static str,
    ) -> Result<Option<Value>, StoreError> {
        let bytes = gateway::encode(&record.to_bytes()?);
        let key = gateway::encode(self.key.as_bytes());
        let highest = gateway::encode(highest_key(&self.key).as_bytes());
        let fence = gateway::encode(fence_key(&self.key).as_bytes());
        let mut compare = compare(&key, &highest, &fence);
        let mut failure = vec![
            json!({"request_range": {"key": key}}),
            json!({"request_range": {"key": highest}}),
            json!({"request_range": {"key": fence}}),
        ];
        // The report the proposal rests on, exactly as read (`check_evidence`): its key not
        // written since, compared in the same transaction, and read again on failure (4th).
        if let Some(evidence) = evidence {
            let reported = gateway::encode(report_key(&self.key).as_bytes());
            compare.push(match evidence.bytes {
                None => json!({"key": reported, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}),
                Some(_) => {
                    json!({"key": reported, "target": "MOD", "result": "EQUAL", "mod_revision": evidence.revision.to_string()})
                }
            });
            failure.push(json!({"request_range": {"key": reported}}));
        }
        let transaction = json!({
            "compare": compare,
            "success": [
                {"request_put": {"key": key, "value": bytes}},
                {"request_put": {"key": highest, "value": bytes}},
            ],
            "failure": failure,
        });
        let answer = self.transact(&transaction, operation)?;
        if answer.is_none() {
            *lock(&self.seen) = None;
            self.slot.note_committed(record);
        }
        Ok(answer)
    }

    /// Sends one write `transaction` whose failure branch starts with a range, once, never
    /// retried. `None`: applied. `Some`: the failure branch's answer, nothing written. No answer
    /// (a timeout, a connection lost after sending), or an answer with neither outcome, leaves
    /// the outcome unknown and poisons the handle (P6-F2, P6-F3); a refusal that rules out any
    /// effect is a plain [`StoreError::Backend`] for `operation`.
    fn transact(&self, transaction: &Value, operation: &'static str) -> Result<Option<Value>, StoreError> {
        let answer = match self.gateway.call("/v3/kv/txn", transaction, Kind::Write) {
            Ok(answer) => answer,
            Err(CallError::Unknown(detail)) => return Err(self.poisoned.unknown(detail)),
            Err(other) => return Err(call_error(operation, other)),
        };
        if answer.get("succeeded").and_then(Value::as_bool) == Some(true) {
            return Ok(None);
        }
        // "Nothing was written" only on the answer of the failure branch, which reads the keys;
        // any other answer settles nothing (proto3 JSON omits `succeeded: false`, so its absence
        // alone proves nothing).
        if answer.pointer("/responses/0/response_range").is_none() {
            return Err(self
                .poisoned
                .unknown(format!("etcd answered a transaction with neither outcome: {answer:.200}")));
        }
        Ok(Some(answer))
    }

    /// The [`report_key`]'s value and revision, one linearizable read.
    fn report_now(&self) -> Result<Current, StoreError> {
        report_at(&self.gateway, &self.key)
    }

    /// One linearizable read of the key and its companion, judged by [`admit`]: the record
    /// there, remembered as what this handle saw.
    fn current(&self) -> Result<Seen, StoreError> {
        let (current, _cluster) = read_pair(&self.gateway, &self.key)?;
        self.see(&current)
    }

    /// The key and its companion as one linearizable read found them, judged by [`admit`]: the
    /// record there, remembered as what this handle saw.
    fn see(&self, current: &Pair) -> Result<Seen, StoreError> {
        let record = admit(&self.slot, &self.key, current)?;
        let seen =
            Seen { record, revision: current.record.revision, highest_revision: current.highest.revision };
        *lock(&self.seen) = Some(seen.clone());
        Ok(seen)
    }

    fn decode(&self, bytes: &[u8]) -> Result<AuthorityRecord, StoreError> {
        decode(&self.key, bytes)
    }

    /// The key, its companion and the report key from a transaction answer's first three
    /// ranges, judged: the record as every reader judges it ([`admit`], remembered as seen),
    /// then [`check_report`] for swapping `expected` for `report` beside it.
    fn judge_report(
        &self,
        answer: &Value,
        operation: &'static str,
        expected: Option<&PrimaryReport>,
        report: &PrimaryReport,
    ) -> Result<(Pair, Current), StoreError> {
        let (pair, stored) = pair_at(answer, 0)
            .and_then(|pair| Ok((pair, range_at(answer, 2)?)))
            .map_err(backend(operation))?;
        let authority = self.see(&pair)?.record;
        let current = decode_report(&report_key(&self.key), &stored)?;
        check_report(authority.as_ref(), current.as_ref(), expected, report)?;
        Ok((pair, stored))
    }
}

/// Whether the settle of `current` brings the companion up to the record: a record that
/// decodes, with no companion (a store from before it) or a companion that decodes at an
/// older epoch (a writer without it committed since). A corrupt companion, or one at the
/// record's epoch or above, is left as it is, for readers to judge.
fn raises_companion(key: &str, current: &Pair) -> bool {
    let Some(Ok(record)) = current.record.bytes.as_deref().map(|bytes| decode(key, bytes)) else {
        return false;
    };
    match current.highest.bytes.as_deref().map(|bytes| decode(&highest_key(key), bytes)) {
        None => true,
        Some(Ok(highest)) => record.epoch() > highest.epoch(),
        Some(Err(_)) => false,
    }
}

/// P6-A1 for etcd, enforced here alone: every reader — a store handle's `load` and commit,
/// [`read_record`], [`AuthorityFollower`](crate::AuthorityFollower) — judges the record it read
/// by the companion read with it, then by what the reader itself has seen (`seen`), through
/// [`PromotionSlot::admit_loaded`], the one rule every store applies: a record older than the
/// companion, another record at its epoch, or none while it exists went back
/// ([`StoreError::WentBack`], event `replication.promotion.authority_went_back`); so does one
/// older than, beside, or missing after what the reader saw. A record without a companion is a
/// store from before it (the next open or commit writes one). Bytes that fail any check are
/// corrupt (P6-F1), the record's reported first.
fn admit(seen: &PromotionSlot, key: &str, pair: &Pair) -> Result<Option<AuthorityRecord>, StoreError> {
    let record = pair.record.bytes.as_deref().map(|bytes| decode(key, bytes)).transpose()?;
    let highest = pair.highest.bytes.as_deref().map(|b| decode(&highest_key(key), b)).transpose()?;
    // The companion is the bar for this read alone: a reader that saw a newer record than a
    // companion a writer without it left behind judges the record by what it saw.
    let bar = PromotionSlot::new();
    bar.admit_loaded(highest.as_ref())?;
    bar.admit_loaded(record.as_ref())?;
    seen.admit_loaded(record.as_ref())?;
    Ok(record)
}

/// Reads the authority under `key` once, linearizably, with its [`highest_key`] at the same
/// revision, without opening a handle (so without claiming the key in this process, or writing
/// anything), for inspection tools, and refuses a record that went back from its companion
/// (P6-A1, [`StoreError::WentBack`]). A controller opens the store.
pub fn read_record(connection: &Connection, key: &str) -> Result<Option<AuthorityRecord>, StoreError> {
    check_key(key)?;
    let gateway = Gateway::new(connection).map_err(|e| call_error("open", e))?;
    read(&gateway, key, &PromotionSlot::new())
}

/// Reads the primary's report under `key`'s [`report_key`] once, linearizably, decoded
/// strictly (P6-F1), without opening a handle: an open settles earlier transactions by putting
/// the record back, which would make every controller's commit in flight lose its compare.
/// For agents and inspection; a controller reads it through its handle.
pub fn read_report(connection: &Connection, key: &str) -> Result<Option<PrimaryReport>, StoreError> {
    check_key(key)?;
    let gateway = Gateway::new(connection).map_err(|e| call_error("open", e))?;
    decode_report(&report_key(key), &report_at(&gateway, key)?)
}

/// The value and revision of `key`'s [`report_key`], one linearizable read.
fn report_at(gateway: &Gateway, key: &str) -> Result<Current, StoreError> {
    let (answer, _cluster) = read_keys(gateway, &[&report_key(key)])?;
    range_at(&answer, 0).map_err(backend("read"))
}

/// The record under `key`, read once, linearizably, with its companion, judged by [`admit`]
/// against it and against what `seen` holds.
pub(crate) fn read(
    gateway: &Gateway,
    key: &str,
    seen: &PromotionSlot,
) -> Result<Option<AuthorityRecord>, StoreError> {
    admit(seen, key, &read_pair(gateway, key)?.0)
}

/// One linearizable read of `key` and its [`highest_key`] at one revision: a transaction of two
/// ranges and nothing else, which etcd serves as a linearizable read (never a serializable one)
/// and which needs read permission only. Also the id of the etcd cluster that answered.
fn read_pair(gateway: &Gateway, key: &str) -> Result<(Pair, String), StoreError> {
    let (answer, cluster) = read_keys(gateway, &[key, &highest_key(key)])?;
    Ok((pair_at(&answer, 0).map_err(backend("read"))?, cluster))
}

/// One linearizable read of `keys` at one revision: a transaction of ranges and nothing else
/// (served as a linearizable read, never a serializable one; read permission only). The answer,
/// its ranges in the order of `keys`, and the id of the etcd cluster that answered.
fn read_keys(gateway: &Gateway, keys: &[&str]) -> Result<(Value, String), StoreError> {
    let ranges: Vec<Value> =
        keys.iter().map(|key| json!({"request_range": {"key": gateway::encode(key.as_bytes())}})).collect();
    let transaction = json!({ "success": ranges });
    let answer = gateway.call("/v3/kv/txn", &transaction, Kind::Read).map_err(|e| call_error("read", e))?;
    let cluster = answer.pointer("/header/cluster_id").and_then(Value::as_str).ok_or_else(|| {
        StoreError::Backend { operation: "read", detail: "etcd answered without a cluster id".to_owned() }
    })?;
    let cluster = cluster.to_owned();
    Ok((answer, cluster))
}

/// The key and its companion from a transaction answer's ranges at `index` and `index + 1`.
fn pair_at(answer: &Value, index: usize) -> Result<Pair, String> {
    Ok(Pair { record: range_at(answer, index)?, highest: range_at(answer, index + 1)? })
}

/// The key's state from the range at `index` among a transaction answer's responses.
fn range_at(answer: &Value, index: usize) -> Result<Current, String> {
    let range = answer
        .pointer(&format!("/responses/{index}/response_range"))
        .ok_or_else(|| format!("etcd answered a transaction without its read number {}", index + 1))?;
    current_of(range.get("kvs"))
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
        .map_err(|error| StoreError::Corrupt { location: Location::key(key), error })
}

/// The report in `current`, read from `key`; bytes that fail any check are corrupt, never
/// "no report" (P6-F1).
fn decode_report(key: &str, current: &Current) -> Result<Option<PrimaryReport>, StoreError> {
    current
        .bytes
        .as_deref()
        .map(PrimaryReport::from_bytes)
        .transpose()
        .map_err(|error| StoreError::Corrupt { location: Location::key(key), error })
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
        self.poisoned.check()?;
        Ok(self.current()?.record)
    }

    fn commit(&mut self, proposal: &Proposal) -> Result<(), StoreError> {
        self.poisoned.check()?;
        // The state to compare against: what this handle last read (the commit edge loads just
        // before committing), if it fits — for a first record, neither key ever seen.
        // `check_commit` compares the whole record with the proposal's predecessor, and the
        // transaction below applies only at the revisions that record and its companion were
        // read at, so the record compared is the record replaced (P6-A1). A stale state only
        // makes the compare fail, writing nothing. A refusal is always decided on a fresh read,
        // so it reports the durable state (a corrupt record is `Corrupt`, P6-F1; one that went
        // back is `WentBack`).
        let cached = lock(&self.seen).clone().filter(|seen| match proposal.expected() {
            None => seen.record.is_none() && seen.highest_revision == 0,
            Some(_) => check_commit(seen.record.as_ref(), proposal).is_ok(),
        });
        let seen = match cached {
            Some(seen) => seen,
            None => self.current()?,
        };
        // Nothing is committed over a record that went back (P6-A1): a fresh read is judged by
        // `admit`; a cached one is the commit edge's load (judged the same way) or, for a
        // bootstrap, neither key at the open; and the transaction compares both keys.
        check_commit(seen.record.as_ref(), proposal)?;
        // A proposal resting on the primary's report commits only beside that very report
        // (`check_evidence`): read now, compared again by the transaction.
        let evidence = match proposal.report() {
            Some(_) => Some(self.report_now()?),
            None => None,
        };
        if let Some(current) = &evidence {
            check_evidence(decode_report(&report_key(&self.key), current)?.as_ref(), proposal)?;
        }
        let fence_revision = *lock(&self.fence);
        // Both keys are exactly as seen: never created, or not modified since (P6-A1); so no
        // bootstrap lands on a store that once held an authority, even with the key deleted. A
        // bootstrap also compares the fence key's revision, so that a handle opened later can
        // settle it (P6-F2): with no key, there is no revision of the key's to move.
        let compare = |key: &str, highest: &str, fence: &str| match seen.record {
            None => vec![
                json!({"key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}),
                json!({"key": highest, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}),
                json!({"key": fence, "target": "MOD", "result": "EQUAL", "mod_revision": fence_revision.to_string()}),
            ],
            Some(_) => vec![
                json!({"key": key, "target": "MOD", "result": "EQUAL", "mod_revision": seen.revision.to_string()}),
                json!({"key": highest, "target": "MOD", "result": "EQUAL", "mod_revision": seen.highest_revision.to_string()}),
            ],
        };
        let Some(answer) =
            self.put_with_companion(compare, proposal.record(), evidence.as_ref(), "commit")?
        else {
            return Ok(());
        };
        // The failure also reads the fence key: a handle opened since moved it, and the next
        // bootstrap compares its revision now.
        let fence = range_at(&answer, 2).map_err(backend("commit"))?;
        *lock(&self.fence) = fence.revision;
        let pair = pair_at(&answer, 0).map_err(backend("commit"))?;
        let found = pair.record.bytes.as_deref().map(|bytes| self.decode(bytes)).transpose()?;
        // What changed, by the same rule: another epoch, or another record at the same epoch
        // (nothing was written either way; a record that went back is refused by the next read).
        check_commit(found.as_ref(), proposal)?;
        // The same record, put again since it was read (a new revision): the compare failed all
        // the same, and nothing was written — unless it went back from its companion.
        let found = admit(&self.slot, &self.key, &pair)?.as_ref().map(AuthorityRecord::epoch);
        if evidence.is_some() {
            let current = range_at(&answer, 3).map_err(backend("commit"))?;
            check_evidence(decode_report(&report_key(&self.key), &current)?.as_ref(), proposal)?;
        }
        Err(StoreError::Conflict(Conflict { expected: proposal.expected(), found }))
    }

    fn slot(&self) -> &PromotionSlot {
        &self.slot
    }

    /// One linearizable read of the [`report_key`], decoded strictly (P6-F1).
    fn load_report(&self) -> Result<Option<PrimaryReport>, StoreError> {
        self.poisoned.check()?;
        decode_report(&report_key(&self.key), &self.report_now()?)
    }

    /// Reads the record, its companion and the report at one revision, applies [`check_report`]
    /// (the record judged first, as every reader judges it, P6-A1), then sends one transaction
    /// that puts the report only if all three keys' `mod_revision`s are still the ones read (the
    /// report's: never created, when there was none), so the authority and report compared are
    /// the ones the report is written beside. A failed compare writes nothing; the refusal is
    /// decided on the failure branch's read of the three keys, as a commit's: what
    /// `check_report` says of them, or [`ReportRefusal::Changed`] when they were written again
    /// unchanged. An unknown
    /// outcome poisons the handle like a commit's; nothing is retried. A handle opened since
    /// settles a pending swap too: its open puts the record back at a new revision.
    fn swap_report(
        &mut self,
        expected: Option<&PrimaryReport>,
        report: &PrimaryReport,
    ) -> Result<(), StoreError> {
        self.poisoned.check()?;
        let (highest, reported) = (highest_key(&self.key), report_key(&self.key));
        let keys = [self.key.as_str(), highest.as_str(), reported.as_str()];
        let (answer, _cluster) = read_keys(&self.gateway, &keys)?;
        let (pair, stored) = self.judge_report(&answer, "read", expected, report)?;
        let [key, highest, reported_key] = keys.map(|key| gateway::encode(key.as_bytes()));
        let report_compare = match stored.bytes {
            None => {
                json!({"key": reported_key, "target": "CREATE", "result": "EQUAL", "create_revision": "0"})
            }
            Some(_) => {
                json!({"key": reported_key, "target": "MOD", "result": "EQUAL", "mod_revision": stored.revision.to_string()})
            }
        };
        let transaction = json!({
            "compare": [
                {"key": key, "target": "MOD", "result": "EQUAL", "mod_revision": pair.record.revision.to_string()},
                {"key": highest, "target": "MOD", "result": "EQUAL", "mod_revision": pair.highest.revision.to_string()},
                report_compare,
            ],
            "success": [{"request_put": {"key": reported_key, "value": gateway::encode(&report.to_bytes()?)}}],
            "failure": [
                {"request_range": {"key": key}},
                {"request_range": {"key": highest}},
                {"request_range": {"key": reported_key}},
            ],
        });
        let Some(answer) = self.transact(&transaction, "swap_report")? else {
            return Ok(());
        };
        self.judge_report(&answer, "swap_report", expected, report)?;
        Err(StoreError::Report(ReportRefusal::Changed))
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
    use crate::harness::{OnTransaction, ScriptedGateway};

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
        assert_eq!(server.finish(), [ScriptedGateway::READ, ScriptedGateway::SETTLE, "/v3/kv/txn"]);
    }

    /// The authority of n0 at epoch 1, as a scripted gateway's value, and its first report.
    fn held() -> (Vec<u8>, PrimaryReport) {
        let record = AuthorityRecord::bootstrap(node()).to_bytes().unwrap();
        (record, PrimaryReport::new(Epoch::INITIAL, node()))
    }

    /// A report swap sent and never answered: as for a commit, the outcome is unknown, the
    /// handle poisoned for every call, and nothing is retried (one transaction reached the
    /// server, after one read of the record, its companion and the report).
    #[test]
    fn an_unanswered_report_swap_poisons_the_handle_and_is_not_retried() {
        let (record, report) = held();
        let server = ScriptedGateway::start(Some(record), OnTransaction::HangUp, 3).unwrap();
        let connection =
            Connection::new(vec![server.endpoint().to_owned()]).with_timeout(Duration::from_secs(2));
        let mut store = EtcdAuthorityStore::open(&connection, "/aerodb/t11/authority").unwrap();
        let error = store.swap_report(None, &report).unwrap_err();
        assert!(matches!(error, StoreError::OutcomeUnknown { .. }), "{error}");
        assert!(matches!(store.load_report(), Err(StoreError::Poisoned(_))));
        assert!(matches!(store.swap_report(None, &report), Err(StoreError::Poisoned(_))));
        assert!(matches!(store.load(), Err(StoreError::Poisoned(_))));
        drop(store);
        assert_eq!(
            server.finish(),
            [ScriptedGateway::READ, ScriptedGateway::SETTLE, ScriptedGateway::READ, "/v3/kv/txn"]
        );
    }

    /// A report swap whose compare failed is decided on the failure branch's read: the record
    /// and report found unchanged but written again is `Changed`; nothing was written, and the
    /// handle stays usable.
    #[test]
    fn a_failed_report_compare_is_refused_without_poison() {
        let (record, report) = held();
        let server = ScriptedGateway::start(Some(record), OnTransaction::Conflict, 4).unwrap();
        let connection = Connection::new(vec![server.endpoint().to_owned()]);
        let mut store = EtcdAuthorityStore::open(&connection, "/aerodb/t12/authority").unwrap();
        let error = store.swap_report(None, &report).unwrap_err();
        assert!(matches!(error, StoreError::Report(ReportRefusal::Changed)), "{error}");
        assert!(matches!(store.load_report(), Ok(None)));
        drop(store);
        assert_eq!(
            server.finish(),
            [
                ScriptedGateway::READ,
                ScriptedGateway::SETTLE,
                ScriptedGateway::READ,
                "/v3/kv/txn",
                ScriptedGateway::READ
            ]
        );
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
        assert_eq!(
            server.finish(),
            [ScriptedGateway::READ, ScriptedGateway::SETTLE, "/v3/kv/txn", ScriptedGateway::READ]
        );
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
        assert_eq!(server.finish(), [ScriptedGateway::READ, ScriptedGateway::SETTLE]);
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

    /// Each authority has its own fence key, companion and report key, under the authority key's
    /// prefix (so that one prefix permission covers all four, as docs/ETCD.md tells operators).
    #[test]
    fn the_fence_key_is_the_authority_key_dot_fence() {
        assert_eq!(fence_key("/aerodb/c1/authority"), "/aerodb/c1/authority.fence");
        assert_ne!(fence_key("/aerodb/c1/authority"), fence_key("/aerodb/c2/authority"));
        assert_eq!(highest_key("/aerodb/c1/authority"), "/aerodb/c1/authority.highest");
        assert_ne!(highest_key("/aerodb/c1/authority"), highest_key("/aerodb/c2/authority"));
        assert_eq!(report_key("/aerodb/c1/authority"), "/aerodb/c1/authority.report");
        assert_ne!(report_key("/aerodb/c1/authority"), report_key("/aerodb/c2/authority"));
        let key = "/aerodb/c1/authority";
        let companions = [fence_key(key), highest_key(key), report_key(key)];
        assert!(companions.iter().all(|k| k.starts_with(key) && k.len() <= MAX_KEY_LEN + ".highest".len()));
    }

    /// One key's state holding `record` (at revision 5), or nothing.
    fn holding(record: Option<&AuthorityRecord>) -> Current {
        match record {
            Some(record) => Current { bytes: Some(record.to_bytes().unwrap()), revision: 5 },
            None => Current { bytes: None, revision: 0 },
        }
    }

    /// Records for the rule below: epoch 1 and 2 of one authority, and another epoch 2.
    fn records() -> (AuthorityRecord, AuthorityRecord, AuthorityRecord) {
        let at = |primary: &str, epoch: u64| {
            let epoch = Epoch::new(epoch);
            let primary = NodeId::new(primary).unwrap();
            start_over_record(primary, Epoch::new(epoch.get() - 1), None, Lsn::new(9), "test").unwrap()
        };
        (at("a", 1), at("a", 2), at("b", 2))
    }

    /// P6-A1, the rule every etcd reader applies ([`admit`]): the record is judged by the
    /// companion read with it, then by what the reader saw. A record without a companion is a
    /// store from before it; a record newer than its companion was written by a writer without
    /// it; both are taken.
    #[test]
    fn a_record_is_judged_by_its_companion_then_by_what_the_reader_saw() {
        let (first, second, other) = records();
        let judge = |seen: &PromotionSlot, record: Option<&AuthorityRecord>, highest| {
            let pair = Pair { record: holding(record), highest: holding(highest) };
            admit(seen, "/k", &pair)
        };
        let fresh = PromotionSlot::new;
        assert_eq!(judge(&fresh(), None, None).unwrap(), None, "never held an authority");
        assert_eq!(judge(&fresh(), Some(&first), None).unwrap(), Some(first.clone()), "from before");
        assert_eq!(judge(&fresh(), Some(&second), Some(&second)).unwrap(), Some(second.clone()));
        assert_eq!(judge(&fresh(), Some(&second), Some(&first)).unwrap(), Some(second.clone()), "raised");
        for (what, record) in [("deleted", None), ("older", Some(&first)), ("beside", Some(&other))] {
            let refused = judge(&fresh(), record, Some(&second));
            assert!(matches!(refused, Err(StoreError::WentBack(_))), "{what}: {refused:?}");
        }
        // What the reader saw is the bar too, even above a companion left behind.
        let seen = fresh();
        assert!(judge(&seen, Some(&second), Some(&first)).is_ok());
        assert!(matches!(judge(&seen, Some(&first), Some(&first)), Err(StoreError::WentBack(_))));
        assert!(matches!(judge(&seen, None, None), Err(StoreError::WentBack(_))));
        // Corrupt bytes in either key are corrupt, the record's first.
        let garbage = Current { bytes: Some(b"garbage".to_vec()), revision: 5 };
        let pair = Pair { record: garbage.clone(), highest: garbage };
        assert!(
            matches!(admit(&fresh(), "/k", &pair), Err(StoreError::Corrupt { location, .. }) if location == Location::key("/k"))
        );
        let pair =
            Pair { record: holding(Some(&second)), highest: Current { bytes: Some(vec![1]), revision: 5 } };
        assert!(
            matches!(admit(&fresh(), "/k", &pair), Err(StoreError::Corrupt { location, .. }) if location == Location::key("/k.highest"))
        );
    }

    /// An open brings the companion up to a record that decodes and is newer, or has none; it
    /// never touches a corrupt companion or one at the record's epoch or above.
    #[test]
    fn an_open_raises_the_companion_only_to_a_newer_record() {
        let (first, second, other) = records();
        let raises = |record: Option<&AuthorityRecord>, highest: Option<&AuthorityRecord>| {
            raises_companion("/k", &Pair { record: holding(record), highest: holding(highest) })
        };
        assert!(raises(Some(&first), None));
        assert!(raises(Some(&second), Some(&first)));
        assert!(!raises(Some(&second), Some(&second)));
        assert!(!raises(Some(&other), Some(&second)));
        assert!(!raises(Some(&first), Some(&second)));
        assert!(!raises(None, Some(&second)));
        assert!(!raises(None, None));
        let corrupt = Current { bytes: Some(b"garbage".to_vec()), revision: 5 };
        assert!(!raises_companion("/k", &Pair { record: corrupt.clone(), highest: holding(None) }));
        assert!(!raises_companion("/k", &Pair { record: holding(Some(&second)), highest: corrupt }));
    }

    /// A transaction answer's reads are required where they are expected.
    #[test]
    fn transaction_reads_are_read_strictly() {
        let answer = serde_json::json!({"responses": [
            {"response_range": {"kvs": [{"key": "L2s=", "value": "aGk=", "mod_revision": "7"}]}},
            {"response_range": {}},
        ]});
        let pair = pair_at(&answer, 0).unwrap();
        assert_eq!((pair.record.bytes.as_deref(), pair.record.revision), (Some(&b"hi"[..]), 7));
        assert_eq!(pair.highest, Current { bytes: None, revision: 0 });
        assert!(pair_at(&answer, 1).is_err(), "a missing read is not an absent key");
        assert!(range_at(&serde_json::json!({"responses": [{"response_put": {}}]}), 0).is_err());
    }

    #[test]
    fn debug_never_shows_the_password() {
        let connection = Connection::new(vec!["http://127.0.0.1:1".into()]).with_user("root", "s3cret");
        assert!(!format!("{connection:?}").contains("s3cret"));
    }
}
