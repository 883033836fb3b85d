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
    /// acknowledged commit was flushed by one of them). Fewer observed: no bound. A name matches
    /// a node id up to ASCII case, as PostgreSQL matches `application_name` (`pg_strcasecmp`,
    /// syncrep.c); P6-F1: a name matching two observed nodes, or named twice up to case, leaves
    /// unknown which standbys acknowledged, so no bound ([`RuleBound::ambiguous`]).
    pub fn bound(&self, ends: &[(NodeId, WalPosition)]) -> RuleBound {
        let same = |a: &NodeId, b: &NodeId| a.as_str().eq_ignore_ascii_case(b.as_str());
        let ambiguous = self
            .standbys
            .iter()
            .enumerate()
            .find(|&(i, s)| {
                self.standbys[..i].iter().any(|t| same(t, s))
                    || ends.iter().filter(|(n, _)| same(n, s)).count() > 1
            })
            .map(|(_, s)| *s);
        let mut observed: Vec<(WalPosition, NodeId)> = self
            .standbys
            .iter()
            .filter_map(|s| ends.iter().find(|(n, _)| same(n, s)).map(|&(n, end)| (end, n)))
            .collect();
        observed.sort_unstable();
        let bound = observed
            .get(self.needed() - 1)
            .filter(|_| ambiguous.is_none())
            .map(|&(position, node)| (node, position));
        RuleBound { rule: self.clone(), observed, bound, ambiguous }
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

/// PostgreSQL's form, which [`FromStr`] reads back and the agent writes into
/// `synchronous_standby_names`: a name its scanner reads bare as that one name (an identifier
/// that is not a keyword, or all digits; case is kept, `syncrep_scanner.l` does not downcase) is
/// printed bare, any other double-quoted with `"` doubled: `ANY 1 (pg2, "first", "pg-2", "1a")`.
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
            if bare_name(s.as_str()) {
                write!(f, "{s}")?;
            } else {
                write!(f, "\"{}\"", s.as_str().replace('"', "\"\""))?;
            }
        }
        f.write_str(")")
    }
}

/// Whether PostgreSQL's scanner reads `name` unquoted as one name: an identifier that is not a
/// keyword, or a number.
fn bare_name(name: &str) -> bool {
    let identifier = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let number = !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit());
    (identifier && keyword(name).is_none()) || number
}

/// `FIRST` or `ANY`, in any case.
fn keyword(word: &str) -> Option<SyncMethod> {
    if word.eq_ignore_ascii_case("FIRST") {
        Some(SyncMethod::First)
    } else if word.eq_ignore_ascii_case("ANY") {
        Some(SyncMethod::Any)
    } else {
        None
    }
}

/// A token of `synchronous_standby_names`, as PostgreSQL's scanner (`syncrep_scanner.l`) cuts it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// `FIRST` or `ANY`, unquoted, in any case.
    Keyword(SyncMethod),
    /// An unquoted identifier, a double-quoted name (`""` inside is one `"`), or `*`.
    Name(String),
    /// Digits.
    Number(String),
    /// `,`, `(` or `)`.
    Punct(char),
}

/// The tokens of `text`, or `None` where PostgreSQL's scanner finds a character no token
/// starts with, or an unterminated quote.
fn tokens(text: &str) -> Option<Vec<Token>> {
    // PostgreSQL's `space`: no other whitespace separates tokens.
    let space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c' | '\x0b');
    let ident_start = |c: char| c.is_ascii_alphabetic() || c == '_' || !c.is_ascii();
    let ident_cont = |c: char| ident_start(c) || c.is_ascii_digit() || c == '$';
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if space(c) => {}
            ',' | '(' | ')' => out.push(Token::Punct(c)),
            '*' => out.push(Token::Name("*".to_owned())),
            '"' => {
                let mut name = String::new();
                loop {
                    match chars.next()? {
                        '"' if chars.peek() == Some(&'"') => {
                            chars.next();
                            name.push('"');
                        }
                        '"' => break,
                        c => name.push(c),
                    }
                }
                out.push(Token::Name(name));
            }
            c if c.is_ascii_digit() => {
                let mut digits = c.to_string();
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    digits.push(d);
                }
                out.push(Token::Number(digits));
            }
            c if ident_start(c) => {
                let mut word = c.to_string();
                while let Some(d) = chars.next_if(|&d| ident_cont(d)) {
                    word.push(d);
                }
                out.push(keyword(&word).map_or(Token::Name(word), Token::Keyword));
            }
            _ => return None,
        }
    }
    Some(out)
}

/// PostgreSQL's `synchronous_standby_names` over node ids, by its grammar
/// (`syncrep_gram.y`): `FIRST k (a, b)`, `ANY k (a, b)`, `k (a, b)` (FIRST) or `a, b`
/// (FIRST 1); keywords in any case; names may be double-quoted, and a keyword must be to be a
/// name (`"first"`); a node id PostgreSQL would need quoted (`pg-2`, `1a`) is read bare too.
/// `*` (any standby) and an empty value name no standby whose flush could be observed: refused,
/// as are a bare keyword, a signed count, and anything after the closing parenthesis.
impl FromStr for SyncRule {
    type Err = EvidenceError;
    fn from_str(text: &str) -> Result<Self, EvidenceError> {
        let syntax = || EvidenceError::Syntax(text.to_owned());
        let tokens = tokens(&quote_node_ids(text).ok_or_else(syntax)?).ok_or_else(syntax)?;
        let (method, count, list) = match tokens.as_slice() {
            [Token::Keyword(method), Token::Number(k), Token::Punct('('), list @ .., Token::Punct(')')] => {
                (*method, k, list)
            }
            [Token::Number(k), Token::Punct('('), list @ .., Token::Punct(')')] => {
                (SyncMethod::First, k, list)
            }
            list => (SyncMethod::First, &"1".to_owned(), list),
        };
        let count = count.parse::<usize>().map_err(|_| syntax())?;
        // `name (, name)*`: names at even places, commas between.
        if list.len() % 2 == 0 {
            return Err(syntax());
        }
        let mut standbys = Vec::with_capacity(list.len() / 2 + 1);
        for (i, token) in list.iter().enumerate() {
            match token {
                Token::Punct(',') if i % 2 == 1 => {}
                Token::Name(name) | Token::Number(name) if i % 2 == 0 => {
                    standbys.push(NodeId::new(name).map_err(|_| syntax())?);
                }
                _ => return Err(syntax()),
            }
        }
        SyncRule::new(method, count, standbys)
    }
}

/// `text` with each unquoted word PostgreSQL would not read as one name or keyword (`pg-2`,
/// `1a`, which it needs quoted) quoted, so that the scanner reads it as one name; `None` if a
/// quote is unterminated.
fn quote_node_ids(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '"' {
            let close = rest[1..].find('"')? + 2;
            out.push_str(&rest[..close]);
            rest = &rest[close..];
        } else if c.is_ascii_alphanumeric() {
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$')));
            let word = &rest[..end.unwrap_or(rest.len())];
            if !bare_name(word) && keyword(word).is_none() {
                out.push('"');
                out.push_str(word);
                out.push('"');
            } else {
                out.push_str(word);
            }
            rest = &rest[word.len()..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    Some(out)
}

/// What one rule bounds, from what was observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleBound {
    /// The rule.
    pub rule: SyncRule,
    /// Each named standby observed, with its WAL end, lowest first.
    pub observed: Vec<(WalPosition, NodeId)>,
    /// The standby whose WAL end bounds every acknowledged position, and that end; `None` when
    /// fewer than [`SyncRule::needed`] were observed, or a name is ambiguous.
    pub bound: Option<(NodeId, WalPosition)>,
    /// A name of the rule that matches, up to ASCII case, two observed nodes or another name of
    /// the rule: PostgreSQL may have counted either, so the rule bounds nothing (P6-F1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambiguous: Option<NodeId>,
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
            match (r.bound, r.ambiguous) {
                (Some((node, position)), _) => write!(f, " → {position} ({node})")?,
                (None, Some(name)) => {
                    write!(f, " → no bound ({name} names more than one standby up to case)")?
                }
                (None, None) => f.write_str(" → no bound")?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use aerodb_core::testing::check;
    use aerodb_core::{Epoch, Lsn};
    use quickcheck::{Arbitrary, Gen};

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    fn ids(names: &[&str]) -> Vec<NodeId> {
        names.iter().map(|n| id(n)).collect()
    }

    fn rule(method: SyncMethod, k: usize, names: &[&str]) -> SyncRule {
        SyncRule::new(method, k, ids(names)).unwrap()
    }

    fn parse(text: &str) -> Result<SyncRule, EvidenceError> {
        text.parse()
    }

    /// Names PostgreSQL reads bare, and ones it needs quoted: keywords in any case, words that
    /// merely start with one, `-`, `.`, `_`, digits.
    const NAMES: [&str; 16] = [
        "pg1", "pg2", "node-3", "db.east", "a_b", "7", "12", "1a", "first", "Any", "FIRST", "anyone",
        "first1", "x", "Q-9.z", "ANY_",
    ];

    /// A valid node id: one of [`NAMES`], or any, short mostly, over letters of the keywords in
    /// both cases, digits, `.`, `_` and `-`.
    fn gen_id(g: &mut Gen) -> NodeId {
        const START: &[u8] = b"aAfFnNyYiIrRsStTpPgG0123456789";
        const REST: &[u8] = b"aAfFnNyYiIrRsStTpPgG01239._-";
        if bool::arbitrary(g) {
            return id(g.choose(&NAMES).unwrap());
        }
        let len = 1 + usize::arbitrary(g) % if bool::arbitrary(g) { 6 } else { aerodb_core::NODE_ID_MAX_LEN };
        let mut text = String::from(char::from(*g.choose(START).unwrap()));
        while text.len() < len {
            text.push(char::from(*g.choose(REST).unwrap()));
        }
        id(&text)
    }

    #[derive(Debug, Clone)]
    struct GenRule(SyncRule);

    impl Arbitrary for GenRule {
        fn arbitrary(g: &mut Gen) -> Self {
            let n = 1 + usize::arbitrary(g) % MAX_SYNC_STANDBYS;
            let mut names: Vec<NodeId> = Vec::new();
            while names.len() < n {
                let name = gen_id(g);
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            let method = if bool::arbitrary(g) { SyncMethod::First } else { SyncMethod::Any };
            GenRule(SyncRule::new(method, 1 + usize::arbitrary(g) % n, names).unwrap())
        }
    }

    /// Every rule reads back from its printed form, and from the other ways of writing it:
    /// keywords in lower case, odd whitespace, every name quoted, `k (…)` and `a, b` for FIRST.
    #[test]
    fn rules_round_trip_through_their_text() {
        fn prop(rule: GenRule) -> bool {
            let rule = rule.0;
            let printed = rule.to_string();
            let names: Vec<String> = rule.standbys().iter().map(|s| format!("\"{s}\"")).collect();
            let method = if rule.method() == SyncMethod::First { "first" } else { "any" };
            let mut forms = vec![
                printed.clone(),
                printed.replacen("FIRST ", "first\t", 1).replacen("ANY ", "any\n  ", 1),
                format!("{method} {}({})", rule.count(), names.join(",")),
                format!(" {method}\r{} ( {} ) ", rule.count(), names.join(" , ")),
            ];
            if rule.method() == SyncMethod::First {
                forms.push(format!("{} ({})", rule.count(), names.join(", ")));
                if rule.count() == 1 {
                    forms.push(names.join(", "));
                }
            }
            forms.iter().all(|text| parse(text).as_ref() == Ok(&rule))
                && printed.starts_with(if rule.method() == SyncMethod::First { "FIRST " } else { "ANY " })
        }
        check("rules_round_trip_through_their_text", 2000, prop as fn(GenRule) -> bool);
    }

    #[test]
    fn names_postgresql_does_not_read_bare_are_printed_quoted() {
        let printed =
            rule(SyncMethod::Any, 2, &["pg2", "12", "node-3", "first", "1a", "anyone", "ANY", "PG.1"])
                .to_string();
        assert_eq!(printed, r#"ANY 2 (pg2, 12, "node-3", "first", "1a", anyone, "ANY", "PG.1")"#);
        assert_eq!(rule(SyncMethod::First, 1, &["Pg_2", "a-b"]).to_string(), r#"FIRST 1 (Pg_2, "a-b")"#);
    }

    /// What the agent writes into `synchronous_standby_names` is what PostgreSQL's scanner reads
    /// (no leniency for bare node ids): the method, the count, and each node id as one name.
    #[test]
    fn printed_rules_scan_as_postgresql_reads_them() {
        fn prop(rule: GenRule) -> bool {
            let rule = rule.0;
            let printed = rule.to_string();
            let mut expected = vec![
                Token::Keyword(rule.method()),
                Token::Number(rule.count().to_string()),
                Token::Punct('('),
            ];
            for (i, s) in rule.standbys().iter().enumerate() {
                if i > 0 {
                    expected.push(Token::Punct(','));
                }
                let all_digits = s.as_str().bytes().all(|b| b.is_ascii_digit());
                expected.push(if all_digits {
                    Token::Number(s.to_string())
                } else {
                    Token::Name(s.to_string())
                });
            }
            expected.push(Token::Punct(')'));
            tokens(&printed) == Some(expected) && parse(&printed) == Ok(rule)
        }
        check("printed_rules_scan_as_postgresql_reads_them", 2000, prop as fn(GenRule) -> bool);
    }

    #[test]
    fn accepted_forms() {
        let first = rule(SyncMethod::First, 1, &["a", "b"]);
        let any = rule(SyncMethod::Any, 1, &["a", "b"]);
        for (text, expected) in [
            ("FIRST 1 (a, b)", &first),
            ("ANY 1 (a, b)", &any),
            ("1 (a, b)", &first),
            ("a, b", &first),
            ("a,b", &first),
            ("\"a\", \"b\"", &first),
            ("first 1 (a, b)", &first),
            ("FiRsT 1(a,b)", &first),
            ("any 1 (\"a\",b)", &any),
            ("aNy\t1\n(\ta ,\rb\x0b)\x0c", &any),
            ("  ANY   01  ( a , b )  ", &any),
        ] {
            assert_eq!(parse(text).as_ref(), Ok(expected), "{text:?}");
        }
        assert_eq!(
            parse("FIRST 2 (pg-2, db.east, 7)"),
            Ok(rule(SyncMethod::First, 2, &["pg-2", "db.east", "7"]))
        );
        assert_eq!(parse("ANY 1 (\"first\", \"ANY\")"), Ok(rule(SyncMethod::Any, 1, &["first", "ANY"])));
        assert_eq!(parse("\"first\""), Ok(rule(SyncMethod::First, 1, &["first"])));
        assert_eq!(parse("1a, anyone"), Ok(rule(SyncMethod::First, 1, &["1a", "anyone"])));
    }

    #[test]
    fn refused_forms() {
        let syntax = |text: &str| EvidenceError::Syntax(text.to_owned());
        for text in [
            "",
            "   ",
            "*",
            "ANY 1 (*)",
            "FIRST 1 (a, *)",
            "ANY 1 (\"*\")",
            "FIRST",
            "ANY",
            "first, b",
            "a, any",
            "ANY 1 (any)",
            "FIRST 1 (First)",
            "ANY 1 pg2",
            "FIRST 1 pg2",
            "1 pg2",
            "1 (a) extra",
            "ANY 1 (a) (b)",
            "ANY 1 (a),",
            "1 ((a))",
            "ANY (a, b)",
            "FIRST (a)",
            "(a, b)",
            "ANY 1 ()",
            "ANY 1 (a, b",
            "ANY 1 a, b)",
            "ANY 1 (a, b))",
            "+1 (a)",
            "-1 (a)",
            "ANY 1.5 (a)",
            "ANY 99999999999999999999999 (a)",
            "ANY1 (a)",
            "\"ANY\" 1 (a)",
            "a,,b",
            ",a",
            "a,",
            "a b",
            "1 (a b)",
            "ANY 1 (\"a\"b)",
            "ANY 1 (\"a)",
            "ANY 1 (\"\")",
            "ANY 1 (\"a(b\")",
            "ANY 1 (a(b)",
            "ANY 1 (\"a b\")",
            "ANY 1 (a$)",
            "ANY 1 (_a)",
            "ANY\u{a0}1 (a)",
            "ANY 1 (é)",
            "ANY 1 (aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa)",
        ] {
            assert_eq!(parse(text), Err(syntax(text)), "{text:?}");
        }
        assert_eq!(parse("ANY 0 (a, b)"), Err(EvidenceError::Count { count: 0, named: 2 }));
        assert_eq!(parse("FIRST 3 (a, b)"), Err(EvidenceError::Count { count: 3, named: 2 }));
        assert_eq!(parse("ANY 1 (a, b, a)"), Err(EvidenceError::Repeated(id("a"))));
        assert_eq!(parse("a, \"a\""), Err(EvidenceError::Repeated(id("a"))));
        let nine = "ANY 1 (a1, a2, a3, a4, a5, a6, a7, a8, a9)";
        assert_eq!(parse(nine), Err(EvidenceError::Standbys(MAX_SYNC_STANDBYS + 1)));
        let eight = "ANY 8 (a1, a2, a3, a4, a5, a6, a7, a8)";
        assert_eq!(parse(eight).map(|r| r.standbys().len()), Ok(MAX_SYNC_STANDBYS));
    }

    #[test]
    fn new_refuses_what_cannot_be_a_rule() {
        assert_eq!(SyncRule::new(SyncMethod::Any, 1, vec![]), Err(EvidenceError::Standbys(0)));
        assert_eq!(
            SyncRule::new(SyncMethod::Any, 0, ids(&["a"])),
            Err(EvidenceError::Count { count: 0, named: 1 })
        );
        assert_eq!(
            SyncRule::new(SyncMethod::First, 2, ids(&["a"])),
            Err(EvidenceError::Count { count: 2, named: 1 })
        );
        assert_eq!(
            SyncRule::new(SyncMethod::First, 1, ids(&["a", "b", "a"])),
            Err(EvidenceError::Repeated(id("a")))
        );
    }

    fn report_json(primary: &str, rules: &[SyncRule]) -> serde_json::Value {
        serde_json::json!({
            "epoch": 3,
            "primary": primary,
            "synchronous": rules,
            "stop_requested": false,
            "stopped": null,
        })
    }

    #[test]
    fn a_report_refuses_its_primary_as_its_own_standby_and_too_many_rules() {
        let a = rule(SyncMethod::Any, 1, &["pg2", "pg3"]);
        let b = rule(SyncMethod::First, 1, &["pg3"]);
        let c = rule(SyncMethod::First, 1, &["pg2"]);
        let good: PrimaryReport =
            serde_json::from_value(report_json("pg1", &[a.clone(), b.clone()])).unwrap();
        assert_eq!(good.synchronous(), [a.clone(), b.clone()]);
        let back: PrimaryReport = serde_json::from_str(&serde_json::to_string(&good).unwrap()).unwrap();
        assert_eq!(back, good);

        let listed = serde_json::from_value::<PrimaryReport>(report_json("pg2", &[b.clone(), a.clone()]));
        assert!(listed.unwrap_err().to_string().contains("pg2 is named as its own"));
        let three =
            serde_json::from_value::<PrimaryReport>(report_json("pg1", &[a.clone(), b.clone(), c.clone()]));
        assert!(three.unwrap_err().to_string().contains("3 rules"));

        let report = PrimaryReport::new(Epoch::new(3), id("pg2"));
        assert_eq!(
            report.clone().with_synchronous(vec![a.clone()]),
            Err(EvidenceError::PrimaryListed(id("pg2")))
        );
        assert_eq!(report.with_synchronous(vec![b.clone(), b.clone(), b]), Err(EvidenceError::Rules(3)));

        // A rule's own fields are checked too.
        let zero = serde_json::json!({"method": "ANY", "count": 0, "standbys": ["pg2"]});
        assert!(serde_json::from_value::<SyncRule>(zero).is_err());
        let twice = serde_json::json!({"method": "FIRST", "count": 1, "standbys": ["pg2", "pg2"]});
        assert!(serde_json::from_value::<SyncRule>(twice).is_err());
    }

    fn at(lsn: u64) -> WalPosition {
        WalPosition::new(Epoch::new(2), Lsn::new(lsn))
    }

    #[test]
    fn a_rule_bound_is_the_highest_of_its_n_minus_k_plus_1_lowest_observed() {
        let r = rule(SyncMethod::Any, 2, &["a", "b", "c", "d"]);
        assert_eq!(r.needed(), 3);
        let ends =
            [(id("a"), at(40)), (id("b"), at(10)), (id("c"), at(30)), (id("d"), at(20)), (id("x"), at(99))];
        let bound = r.bound(&ends);
        assert_eq!(bound.bound, Some((id("c"), at(30))));
        assert_eq!(bound.observed.len(), 4);
        // Three observed still bound it; two do not.
        assert_eq!(r.bound(&ends[..3]).bound, Some((id("a"), at(40))));
        assert_eq!(r.bound(&[ends[1], ends[4]]).bound, None);
        // k = n: the lowest; k = 1: the highest, only with every standby observed.
        assert_eq!(
            rule(SyncMethod::Any, 4, &["a", "b", "c", "d"]).bound(&ends).bound,
            Some((id("b"), at(10)))
        );
        assert_eq!(
            rule(SyncMethod::First, 1, &["a", "b", "c", "d"]).bound(&ends).bound,
            Some((id("a"), at(40)))
        );
        assert_eq!(rule(SyncMethod::First, 1, &["a", "b", "c", "d"]).bound(&ends[..3]).bound, None);
    }

    /// PostgreSQL matches names to `application_name` up to case (P6-S1); where that leaves
    /// which standby acknowledged unknown, the rule bounds nothing (P6-F1).
    #[test]
    fn names_match_observed_nodes_up_to_case_and_an_ambiguous_name_bounds_nothing() {
        let report =
            |r: SyncRule| PrimaryReport::new(Epoch::new(2), id("pg1")).with_synchronous(vec![r]).unwrap();
        // A name matches the node observed under another case.
        let upper = report(rule(SyncMethod::First, 1, &["PG2"]));
        assert_eq!(upper.derive(&[(id("pg2"), at(20))]).bound, Some((id("pg2"), at(20))));
        // pg2 and PG2 both observed: PostgreSQL may have counted either as `pg2`.
        let d =
            report(rule(SyncMethod::Any, 1, &["pg2"])).derive(&[(id("pg2"), at(20)), (id("PG2"), at(30))]);
        assert_eq!((d.bound, d.rules[0].ambiguous), (None, Some(id("pg2"))));
        assert!(d.to_string().ends_with("→ no bound (pg2 names more than one standby up to case)"), "{d}");
        // A name twice up to case: a second standby named so may have acknowledged, unobserved.
        let twice = report(rule(SyncMethod::Any, 2, &["pg2", "pg3", "Pg2"]));
        let d = twice.derive(&[(id("pg2"), at(20)), (id("pg3"), at(30))]);
        assert_eq!((d.bound, d.rules[0].ambiguous), (None, Some(id("Pg2"))));
        // Exactly one match each: bounded as before.
        let d = report(rule(SyncMethod::Any, 2, &["pg2", "pg3"]))
            .derive(&[(id("pg2"), at(20)), (id("PG3"), at(30))]);
        assert_eq!((d.bound, d.rules[0].ambiguous), (Some((id("pg2"), at(20))), None));
    }

    /// Against the definition, over generated rules and observations: every `k` named standbys
    /// include one at or below the bound (whichever `k` acknowledged a commit, one holds it),
    /// and no lower position has that property; with `k` standbys unobserved, no bound. Nodes are
    /// observed under their name or its upper case; a name that matches two, or another name of
    /// the rule, up to case: no bound.
    #[test]
    fn a_rule_bound_is_the_lowest_every_k_standbys_reach_down_to() {
        fn prop(rule: GenRule, ends: Vec<(u8, u8)>) -> bool {
            let rule = rule.0;
            let n = rule.standbys().len();
            let k = rule.count();
            // Some standbys observed, at LSNs from a small range so that ties occur.
            let ends: Vec<(NodeId, WalPosition)> = ends
                .iter()
                .filter_map(|&(i, lsn)| {
                    let s = *rule.standbys().get(usize::from(i) % (n + 1))?;
                    let s = if lsn & 8 == 0 { s } else { id(&s.as_str().to_ascii_uppercase()) };
                    Some((s, at(u64::from(lsn % 8))))
                })
                .fold(Vec::new(), |mut seen, (s, p)| {
                    if !seen.iter().any(|(t, _)| *t == s) {
                        seen.push((s, p));
                    }
                    seen
                });
            let same = |a: NodeId, b: NodeId| a.as_str().eq_ignore_ascii_case(b.as_str());
            let matches = |s: NodeId| ends.iter().filter(|(t, _)| same(*t, s)).count();
            let got = rule.bound(&ends);
            let twice =
                rule.standbys().iter().any(|&s| rule.standbys().iter().filter(|&&t| same(s, t)).count() > 1);
            if twice || rule.standbys().iter().any(|&s| matches(s) > 1) {
                return got.bound.is_none() && got.ambiguous.is_some();
            }
            let position = |s: NodeId| ends.iter().find(|(t, _)| same(*t, s)).map(|e| e.1);
            let unobserved = rule.standbys().iter().filter(|s| position(**s).is_none()).count();
            if unobserved >= k {
                return got.bound.is_none() && got.ambiguous.is_none();
            }
            // max over k-subsets of the lowest member (an unobserved member could be anywhere:
            // it never helps, so a subset with one counts as its observed members' lowest).
            let mut expected = None;
            for set in 0u32..1 << n {
                if set.count_ones() as usize != k {
                    continue;
                }
                let lowest =
                    (0..n).filter(|i| set & 1 << i != 0).filter_map(|i| position(rule.standbys()[i])).min();
                expected = expected.max(lowest);
            }
            got.bound.map(|(node, p)| (p, ends.contains(&(node, p)))) == expected.map(|p| (p, true))
        }
        check(
            "a_rule_bound_is_the_lowest_every_k_standbys_reach_down_to",
            2000,
            prop as fn(GenRule, Vec<(u8, u8)>) -> bool,
        );
    }
}
