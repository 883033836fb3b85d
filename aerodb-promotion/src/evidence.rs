//! Evidence the primary of an epoch keeps durably beside the authority ([`PrimaryReport`]): the
//! synchronous-standby rules in force during its epoch, from which the acknowledged bound is
//! derived (P6-S1), and its agent's statement that its server stopped for good (P6-A1).

use std::fmt;
use std::str::FromStr;

use aerodb_core::{Epoch, NodeId, WalPosition};
use serde::{Deserialize, Serialize};

/// Most standbys one rule names.
pub const MAX_SYNC_STANDBYS: usize = 8;
/// Most rules a report keeps: the rule in force, and the one it is replacing.
pub const MAX_SYNC_RULES: usize = 2;

/// How the primary picks the standbys a commit waits for (PostgreSQL's
/// `synchronous_standby_names`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SyncMethod {
    /// The first `k` connected standbys, in list order, acknowledge.
    First,
    /// Any `k` of the listed standbys acknowledge (a quorum).
    Any,
}

/// A synchronous-replication rule: every commit is acknowledged only after `count` of
/// `standbys` flushed it. Made by [`SyncRule::new`] or parsed from PostgreSQL's syntax.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RuleFields", into = "RuleFields")]
pub struct SyncRule {
    method: SyncMethod,
    count: u8,
    standbys: Vec<NodeId>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFields {
    method: SyncMethod,
    count: u8,
    standbys: Vec<NodeId>,
}

/// A rule or report that cannot be evidence of anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// `count` is 0 or more than the standbys named.
    #[error("a rule waiting for {count} of {named} standbys: it must wait for 1 to {named}")]
    Count {
        /// The count given.
        count: usize,
        /// Standbys named.
        named: usize,
    },
    /// No standby, or more than [`MAX_SYNC_STANDBYS`].
    #[error("a rule names {0} standbys; it must name 1 to {MAX_SYNC_STANDBYS}")]
    Standbys(usize),
    /// A standby named twice.
    #[error("standby {0} is named twice")]
    Repeated(NodeId),
    /// The primary named as its own standby.
    #[error("the primary {0} is named as its own synchronous standby")]
    PrimaryListed(NodeId),
    /// More than [`MAX_SYNC_RULES`] rules.
    #[error("a report keeps {0} rules; at most {MAX_SYNC_RULES}")]
    Rules(usize),
    /// Text that is not `FIRST k (a, b)`, `ANY k (a, b)`, `k (a, b)` or `a, b` over node ids.
    #[error("not a synchronous standby rule over node ids: {0}")]
    Syntax(String),
}

impl SyncRule {
    /// `count` of `standbys` acknowledge every commit, picked by `method`.
    pub fn new(method: SyncMethod, count: usize, standbys: Vec<NodeId>) -> Result<Self, EvidenceError> {
        if standbys.is_empty() || standbys.len() > MAX_SYNC_STANDBYS {
            return Err(EvidenceError::Standbys(standbys.len()));
        }
        if count == 0 || count > standbys.len() {
            return Err(EvidenceError::Count { count, named: standbys.len() });
        }
        if let Some(twice) = standbys.iter().enumerate().find(|(i, s)| standbys[..*i].contains(s)) {
            return Err(EvidenceError::Repeated(*twice.1));
        }
        let count = u8::try_from(count).map_err(|_| EvidenceError::Count { count, named: standbys.len() })?;
        Ok(SyncRule { method, count, standbys })
    }

    /// How standbys are picked.
    pub fn method(&self) -> SyncMethod {
        self.method
    }
    /// How many standbys acknowledge each commit (`k`).
    pub fn count(&self) -> usize {
        usize::from(self.count)
    }
    /// The standbys named (`n` of them), in the rule's order.
    pub fn standbys(&self) -> &[NodeId] {
        &self.standbys
    }

    /// How many named standbys must be observed to bound what was acknowledged: `n − k + 1`.
    /// Every set of `k` named standbys shares one with every set of this many, whichever `k`
    /// acknowledged a commit; under `FIRST k` which ones did changed as standbys came and went,
    /// so the same holds.
    pub fn needed(&self) -> usize {
        self.standbys.len() - self.count() + 1
    }

    /// P6-S1: the bound this rule puts on every acknowledged position, from each observed
    /// node's WAL end: the highest among the `n − k + 1` lowest observed named standbys (every
    /// acknowledged commit was flushed by one of them). Fewer observed: no bound.
    pub fn bound(&self, ends: &[(NodeId, WalPosition)]) -> RuleBound {
        let mut observed: Vec<(WalPosition, NodeId)> = self
            .standbys
            .iter()
            .filter_map(|s| ends.iter().find(|(n, _)| n == s).map(|&(n, end)| (end, n)))
            .collect();
        observed.sort_unstable();
        let bound = observed.get(self.needed() - 1).map(|&(position, node)| (node, position));
        RuleBound { rule: self.clone(), observed, bound }
    }
}

impl TryFrom<RuleFields> for SyncRule {
    type Error = EvidenceError;
    fn try_from(f: RuleFields) -> Result<Self, EvidenceError> {
        SyncRule::new(f.method, usize::from(f.count), f.standbys)
    }
}

impl From<SyncRule> for RuleFields {
    fn from(r: SyncRule) -> Self {
        RuleFields { method: r.method, count: r.count, standbys: r.standbys }
    }
}

/// PostgreSQL's form: `ANY 1 (pg2, pg3)`.
impl fmt::Display for SyncRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = match self.method {
            SyncMethod::First => "FIRST",
            SyncMethod::Any => "ANY",
        };
        write!(f, "{method} {} (", self.count)?;
        for (i, s) in self.standbys.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{s}")?;
        }
        f.write_str(")")
    }
}

/// PostgreSQL's `synchronous_standby_names` over node ids: `FIRST k (a, b)`, `ANY k (a, b)`,
/// `k (a, b)` (FIRST) or `a, b` (FIRST 1); names may be double-quoted. `*` (any standby) and
/// an empty value name no standby whose flush could be observed: refused.
impl FromStr for SyncRule {
    type Err = EvidenceError;
    fn from_str(text: &str) -> Result<Self, EvidenceError> {
        let syntax = || EvidenceError::Syntax(text.to_owned());
        let trimmed = text.trim();
        let (method, rest) = match trimmed.split_once(char::is_whitespace) {
            Some((word, rest)) if word.eq_ignore_ascii_case("FIRST") => {
                (SyncMethod::First, rest.trim_start())
            }
            Some((word, rest)) if word.eq_ignore_ascii_case("ANY") => (SyncMethod::Any, rest.trim_start()),
            _ => (SyncMethod::First, trimmed),
        };
        let (count, list) = match rest.split_once('(') {
            Some((count, list)) => {
                let list = list.trim_end().strip_suffix(')').ok_or_else(syntax)?;
                (count.trim().parse::<usize>().map_err(|_| syntax())?, list)
            }
            None if method == SyncMethod::First && rest.len() == trimmed.len() => (1, rest),
            None => return Err(syntax()),
        };
        let standbys = list
            .split(',')
            .map(|name| {
                let name = name.trim();
                let name = name.strip_prefix('"').and_then(|n| n.strip_suffix('"')).unwrap_or(name);
                NodeId::new(name).map_err(|_| syntax())
            })
            .collect::<Result<Vec<NodeId>, EvidenceError>>()?;
        SyncRule::new(method, count, standbys)
    }
}

/// What one rule bounds, from what was observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleBound {
    /// The rule.
    pub rule: SyncRule,
    /// Each named standby observed, with its WAL end, lowest first.
    pub observed: Vec<(WalPosition, NodeId)>,
    /// The standby whose WAL end bounds every acknowledged position, and that end; `None` when
    /// fewer than [`SyncRule::needed`] were observed.
    pub bound: Option<(NodeId, WalPosition)>,
}

/// The agent's durable statement that the primary's server has stopped and will not be
/// opened for writes at this epoch again (P6-A1): it makes the old primary confirmed stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stopped {
    /// The server's last checkpoint.
    pub checkpoint: WalPosition,
    /// Whether it shut down cleanly: then nothing was written after the checkpoint, and no
    /// commit was acknowledged after it.
    pub clean: bool,
}

/// What the primary of one epoch keeps durably beside the authority, changed only by
/// compare-and-swap like the authority record: the synchronous-standby rules that may have
/// been in force during the epoch, whether a controller asked it to stop, and whether it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ReportFields", into = "ReportFields")]
pub struct PrimaryReport {
    fields: ReportFields,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportFields {
    epoch: Epoch,
    primary: NodeId,
    synchronous: Vec<SyncRule>,
    stop_requested: bool,
    stopped: Option<Stopped>,
}

impl PrimaryReport {
    /// A first report of `primary` at `epoch`: no synchronous rule stated, not stopped.
    pub fn new(epoch: Epoch, primary: NodeId) -> Self {
        PrimaryReport {
            fields: ReportFields {
                epoch,
                primary,
                synchronous: Vec::new(),
                stop_requested: false,
                stopped: None,
            },
        }
    }

    /// With `rules` as every synchronous rule that may have been in force during the epoch
    /// (during a change, the old and the new one).
    pub fn with_synchronous(mut self, rules: Vec<SyncRule>) -> Result<Self, EvidenceError> {
        self.fields.synchronous = rules;
        ReportFields::check(self.fields).map(|fields| PrimaryReport { fields })
    }

    /// With a controller's request that the primary stop for good.
    #[must_use]
    pub fn with_stop_requested(mut self) -> Self {
        self.fields.stop_requested = true;
        self
    }

    /// With the agent's statement that the server stopped for good.
    #[must_use]
    pub fn with_stopped(mut self, stopped: Stopped) -> Self {
        self.fields.stopped = Some(stopped);
        self
    }

    /// With the stop request and the stop statement withdrawn together: the primary may be
    /// opened again at its epoch, and a promotion decided on the statement no longer commits.
    #[must_use]
    pub fn resumed(mut self) -> Self {
        self.fields.stop_requested = false;
        self.fields.stopped = None;
        self
    }

    /// The epoch the report belongs to.
    pub fn epoch(&self) -> Epoch {
        self.fields.epoch
    }
    /// The primary that keeps it.
    pub fn primary(&self) -> NodeId {
        self.fields.primary
    }
    /// Every synchronous rule that may have been in force during the epoch; empty: none stated.
    pub fn synchronous(&self) -> &[SyncRule] {
        &self.fields.synchronous
    }
    /// Whether a controller asked the primary to stop for good.
    pub fn stop_requested(&self) -> bool {
        self.fields.stop_requested
    }
    /// The agent's statement that the server stopped for good, if made.
    pub fn stopped(&self) -> Option<Stopped> {
        self.fields.stopped
    }

    /// Whether this report speaks for the authority of `primary` at `epoch`; any other is
    /// about another epoch and is evidence of nothing now.
    pub fn is_for(&self, epoch: Epoch, primary: NodeId) -> bool {
        self.fields.epoch == epoch && self.fields.primary == primary
    }

    /// P6-S1: the acknowledged bound derived from every rule, from each observed node's WAL end:
    /// the highest of the rules' bounds. `None` when no rule is stated or one cannot be bounded.
    pub fn derive(&self, ends: &[(NodeId, WalPosition)]) -> Derivation {
        let rules: Vec<RuleBound> = self.fields.synchronous.iter().map(|r| r.bound(ends)).collect();
        let bound = if rules.is_empty() {
            None
        } else {
            rules
                .iter()
                .map(|r| r.bound)
                .collect::<Option<Vec<_>>>()
                .and_then(|bounds| bounds.into_iter().max_by_key(|&(node, position)| (position, node)))
        };
        Derivation { epoch: self.fields.epoch, rules, bound }
    }
}

impl ReportFields {
    fn check(self) -> Result<Self, EvidenceError> {
        if self.synchronous.len() > MAX_SYNC_RULES {
            return Err(EvidenceError::Rules(self.synchronous.len()));
        }
        if self.synchronous.iter().any(|r| r.standbys.contains(&self.primary)) {
            return Err(EvidenceError::PrimaryListed(self.primary));
        }
        Ok(self)
    }
}

impl TryFrom<ReportFields> for PrimaryReport {
    type Error = EvidenceError;
    fn try_from(fields: ReportFields) -> Result<Self, EvidenceError> {
        ReportFields::check(fields).map(|fields| PrimaryReport { fields })
    }
}

impl From<PrimaryReport> for ReportFields {
    fn from(report: PrimaryReport) -> Self {
        report.fields
    }
}

/// How the acknowledged bound was derived from a report's rules (P6-S1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Derivation {
    /// The epoch whose rules these are.
    pub epoch: Epoch,
    /// Each rule and what it bounds.
    pub rules: Vec<RuleBound>,
    /// The standby that sets the bound and its WAL end: the highest over the rules; `None` if
    /// no rule is stated or one could not be bounded.
    pub bound: Option<(NodeId, WalPosition)>,
}

impl fmt::Display for Derivation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rules.is_empty() {
            return write!(f, "no synchronous rule reported for epoch {}", self.epoch);
        }
        for (i, r) in self.rules.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{} needs {} observed, observed [", r.rule, r.rule.needed())?;
            for (j, (position, node)) in r.observed.iter().enumerate() {
                if j > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{node} {position}")?;
            }
            f.write_str("]")?;
            match r.bound {
                Some((node, position)) => write!(f, " → {position} ({node})")?,
                None => f.write_str(" → no bound")?,
            }
        }
        Ok(())
    }
}

/// Where the acknowledged bound a promotion was approved on came from; kept in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcknowledgedSource {
    /// Given in the inputs (by the operator or the calling control plane), not derived.
    Given,
    /// Derived from the primary's reported synchronous rules: `node`'s WAL end set it.
    Derived {
        /// The standby whose WAL end set the bound.
        node: NodeId,
    },
    /// The old primary stopped cleanly: its shutdown checkpoint.
    CleanStop,
}

/// Where the old primary's state a promotion was approved on came from; kept in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OldPrimarySource {
    /// Reported in the inputs by the caller (stopped or fenced).
    Given,
    /// Its agent's durable statement that it stopped.
    Agent,
    /// Nobody could tell; the operator's force carried the decision (P6-A1a).
    Operator,
}

/// The evidence an approved promotion rested on, kept in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Evidence {
    /// The acknowledged bound the candidate held.
    pub acknowledged: WalPosition,
    /// Where that bound came from.
    pub acknowledged_from: AcknowledgedSource,
    /// Where the old primary's state came from.
    pub old_primary_from: OldPrimarySource,
}

impl fmt::Display for AcknowledgedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcknowledgedSource::Given => f.write_str("given by the operator or the calling control plane"),
            AcknowledgedSource::Derived { node } => {
                write!(f, "derived from the synchronous rules, set by {node}")
            }
            AcknowledgedSource::CleanStop => f.write_str("the old primary's clean shutdown checkpoint"),
        }
    }
}

impl fmt::Display for OldPrimarySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OldPrimarySource::Given => "reported by the operator or the calling control plane",
            OldPrimarySource::Agent => "its agent's statement",
            OldPrimarySource::Operator => "the operator's statement (force)",
        })
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "acknowledged {} ({}), old primary's state {}",
            self.acknowledged, self.acknowledged_from, self.old_primary_from
        )
    }
}
