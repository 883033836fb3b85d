//! etcd's v3 JSON gateway over a blocking HTTP client: several endpoints, fail-over, TLS and
//! user/password authentication. No async runtime: a synchronous caller needs none, and an
//! async caller inside a tokio runtime may call it (from `spawn_blocking`) without a panic.
//!
//! Every answer is checked here, in one place ([`Gateway::call`] and the exchange under it):
//! it must come from the etcd cluster the client first talked to, and a token etcd no longer
//! accepts is replaced once. A password is never sent over plain `http://` unless allowed.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};

/// The most bytes read from one gateway answer (a record frame is far smaller).
const ANSWER_LIMIT: u64 = 1 << 20;

/// How to reach etcd: endpoints, timeout, TLS, credentials.
#[derive(Clone)]
#[non_exhaustive]
pub struct Connection {
    /// Client URLs, `http://host:port` or `https://host:port`, tried in order.
    pub endpoints: Vec<String>,
    /// How long one HTTP exchange may take before its outcome is unknown.
    pub timeout: Duration,
    /// TLS settings for `https://` endpoints.
    pub tls: Option<Tls>,
    /// etcd user name and password.
    pub user: Option<(String, String)>,
    /// Whether the user's password (and the token etcd answers with) may travel over plain
    /// `http://` endpoints, readable by anyone on the path. Off unless set explicitly.
    pub allow_plaintext_password: bool,
}

/// The environment variable the operator tools read the etcd password from (never the command
/// line). No process this crate starts inherits it (`harness`, feature `testing`, removes it); the
/// reading process's own environment keeps it, as removing a variable is `unsafe` in Rust 2024.
pub const PASSWORD_VAR: &str = "AERODB_ETCD_PASSWORD";

impl std::fmt::Debug for Connection {
    /// Everything but the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("endpoints", &self.endpoints)
            .field("timeout", &self.timeout)
            .field("tls", &self.tls.is_some())
            .field("user", &self.user.as_ref().map(|(name, _)| name))
            .field("allow_plaintext_password", &self.allow_plaintext_password)
            .finish()
    }
}

/// TLS for `https://` endpoints: the CA that signed the servers' certificates, and optionally
/// a client certificate and key (PEM).
#[derive(Clone)]
#[non_exhaustive]
pub struct Tls {
    /// The CA certificate(s), PEM.
    pub ca: Vec<u8>,
    /// The client certificate chain and private key, PEM.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

impl Tls {
    /// Servers verified against `ca` (PEM); no client certificate.
    pub fn new(ca: Vec<u8>) -> Tls {
        Tls { ca, client: None }
    }

    /// With a client certificate chain and key (PEM).
    #[must_use]
    pub fn with_client(mut self, certificate: Vec<u8>, key: Vec<u8>) -> Tls {
        self.client = Some((certificate, key));
        self
    }
}

impl Connection {
    /// `endpoints`, a 5 s timeout, no TLS, no user.
    pub fn new(endpoints: Vec<String>) -> Connection {
        Connection {
            endpoints,
            timeout: Duration::from_secs(5),
            tls: None,
            user: None,
            allow_plaintext_password: false,
        }
    }

    /// With this timeout per HTTP exchange.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Connection {
        self.timeout = timeout;
        self
    }

    /// With TLS.
    #[must_use]
    pub fn with_tls(mut self, tls: Tls) -> Connection {
        self.tls = Some(tls);
        self
    }

    /// With etcd authentication. Over `http://` endpoints the password would travel in plain
    /// text: refused unless [`with_plaintext_password_allowed`](Self::with_plaintext_password_allowed).
    #[must_use]
    pub fn with_user(mut self, name: &str, password: &str) -> Connection {
        self.user = Some((name.to_owned(), password.to_owned()));
        self
    }

    /// Allows the user's password and token over plain `http://` endpoints (a loopback test
    /// cluster, a network the operator trusts); without it such a connection is refused.
    #[must_use]
    pub fn with_plaintext_password_allowed(mut self) -> Connection {
        self.allow_plaintext_password = true;
        self
    }
}

/// How a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CallError {
    /// The settings are unusable (bad endpoint URL, bad PEM).
    #[error("{0}")]
    Config(String),
    /// No endpoint received the request: every connection failed before it was sent.
    #[error("{0}")]
    NotSent(String),
    /// etcd answered with an error that rules out any effect (bad argument, authentication,
    /// permission): what it said, and whether it refused the token (a new one may do).
    #[error("{detail}")]
    Refused { token: bool, detail: String },
    /// The request may have reached etcd and no answer says what became of it.
    #[error("{0}")]
    Unknown(String),
}

/// What kind of request: reads may go to another endpoint after any failure; writes only
/// when the request was never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Read,
    Write,
}

/// A connected gateway client.
pub(crate) struct Gateway {
    agent: ureq::Agent,
    endpoints: Vec<String>,
    user: Option<(String, String)>,
    /// The endpoint that answered last, tried first.
    preferred: Mutex<usize>,
    /// The authentication token, when a user is set.
    token: Mutex<Option<String>>,
    /// The id of the etcd cluster that answered first: every later answer must carry it.
    cluster: Mutex<Option<String>>,
}

/// etcd's error answer: `{"error": ..., "code": ...}` (a gRPC status code).
#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    error: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: u32,
}

/// gRPC codes etcd answers before a request can take effect: invalid argument, permission
/// denied, failed precondition, unauthenticated.
const DEFINITE_REFUSALS: [u32; 4] = [3, 7, 9, 16];
/// gRPC "unauthenticated": a token that expired or was revoked.
const UNAUTHENTICATED: u32 = 16;
/// What etcd says (gRPC "invalid argument") of a token issued before its users or roles last
/// changed. A JWT carries the auth store's revision it was issued at, so after any such change
/// every JWT issued before is refused this way for good: only a new token helps.
const OLD_AUTH_REVISION: &str = "etcdserver: revision of auth store is old";

/// Whether etcd's refusal is of the token rather than the request: a new token may succeed.
fn token_refused(code: u32, said: &str) -> bool {
    code == UNAUTHENTICATED || said.trim() == OLD_AUTH_REVISION
}

impl Gateway {
    pub(crate) fn new(connection: &Connection) -> Result<Gateway, CallError> {
        if connection.endpoints.is_empty() {
            return Err(CallError::Config("no etcd endpoint given".to_owned()));
        }
        for endpoint in &connection.endpoints {
            let scheme_ok = endpoint.starts_with("http://") || endpoint.starts_with("https://");
            if !scheme_ok || endpoint.ends_with('/') || endpoint.contains(char::is_whitespace) {
                return Err(CallError::Config(format!(
                    "etcd endpoint {endpoint:?} is not a URL http(s)://host:port"
                )));
            }
            if endpoint.starts_with("https://") && connection.tls.is_none() {
                return Err(CallError::Config(format!("etcd endpoint {endpoint} needs TLS settings (a CA)")));
            }
            // A password never crosses plain HTTP unless the operator said it may (fail closed,
            // P6-F1): the password, and every token etcd answers with, would be readable on the
            // way.
            if let Some((name, _)) = &connection.user
                && endpoint.starts_with("http://")
                && !connection.allow_plaintext_password
            {
                return Err(CallError::Config(format!(
                    "refusing to send etcd user {name:?}'s password over plain http to {endpoint}: use \
                     https:// endpoints with a CA, or allow it explicitly (Connection::\
                     with_plaintext_password_allowed; aerodb-promote --etcd-allow-plaintext-password)"
                )));
            }
        }
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(connection.timeout))
            .max_redirects(0);
        if let Some(tls) = &connection.tls {
            config = config.tls_config(tls_config(tls)?);
        }
        Ok(Gateway {
            agent: config.build().into(),
            endpoints: connection.endpoints.clone(),
            user: connection.user.clone(),
            preferred: Mutex::new(0),
            token: Mutex::new(None),
            cluster: Mutex::new(None),
        })
    }

    /// The endpoints, in order.
    pub(crate) fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// Posts `body` to `path` (e.g. `/v3/kv/range`), authenticating first when a user is set
    /// and again once if etcd refuses the token: invalid, expired, or issued before etcd's users
    /// or roles changed (a JWT then stays refused for good). A refusal rules out any effect, so
    /// sending the request again with the new token repeats nothing.
    pub(crate) fn call(&self, path: &str, body: &Value, kind: Kind) -> Result<Value, CallError> {
        let token = self.token()?;
        match self.post(path, body, kind, token.as_deref()) {
            Err(CallError::Refused { token: true, .. }) if self.user.is_some() => {
                lock(&self.token).take();
                let token = self.token()?;
                self.post(path, body, kind, token.as_deref())
            }
            other => other,
        }
    }

    /// The current token, authenticating if there is none yet.
    fn token(&self) -> Result<Option<String>, CallError> {
        let Some((name, password)) = &self.user else { return Ok(None) };
        if let Some(token) = lock(&self.token).clone() {
            return Ok(Some(token));
        }
        let answer = self.post(
            "/v3/auth/authenticate",
            &json!({"name": name, "password": password}),
            Kind::Read,
            None,
        )?;
        let token = answer.get("token").and_then(Value::as_str).ok_or_else(|| CallError::Refused {
            token: false,
            detail: "etcd authentication answered without a token".to_owned(),
        })?;
        *lock(&self.token) = Some(token.to_owned());
        Ok(Some(token.to_owned()))
    }

    /// One request, trying endpoints from the preferred one on.
    fn post(&self, path: &str, body: &Value, kind: Kind, token: Option<&str>) -> Result<Value, CallError> {
        let first = *lock(&self.preferred);
        let mut failures = Vec::new();
        for offset in 0..self.endpoints.len() {
            let index = (first + offset) % self.endpoints.len();
            let endpoint = &self.endpoints[index];
            match self.post_to(endpoint, path, body, token) {
                Ok(answer) => {
                    *lock(&self.preferred) = index;
                    return Ok(answer);
                }
                Err(Attempt::Refused { token, detail }) => return Err(CallError::Refused { token, detail }),
                Err(Attempt::NotSent(why)) => failures.push(why),
                Err(Attempt::Unanswered(why)) if kind == Kind::Read => failures.push(why),
                Err(Attempt::Unanswered(why)) => return Err(CallError::Unknown(why)),
            }
        }
        Err(CallError::NotSent(match kind {
            Kind::Read => format!("no etcd endpoint answered: {}", failures.join("; ")),
            Kind::Write => format!("no etcd endpoint could be reached: {}", failures.join("; ")),
        }))
    }

    fn post_to(
        &self,
        endpoint: &str,
        path: &str,
        body: &Value,
        token: Option<&str>,
    ) -> Result<Value, Attempt> {
        let mut request = self.agent.post(format!("{endpoint}{path}"));
        if let Some(token) = token {
            request = request.header("Authorization", token);
        }
        let mut response = request.send_json(body).map_err(|e| classify(e, endpoint, path))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(ANSWER_LIMIT)
            .read_to_string()
            .map_err(|e| Attempt::Unanswered(format!("{endpoint}{path}: reading the answer: {e}")))?;
        if status == 200 {
            let answer: Value = serde_json::from_str(&text).map_err(|e| {
                Attempt::Unanswered(format!(
                    "{endpoint}{path}: an answer that is not JSON ({e}): {text:.200}"
                ))
            })?;
            self.check_cluster(&answer)
                .map_err(|why| Attempt::Unanswered(format!("{endpoint}{path}: {why}")))?;
            return Ok(answer);
        }
        let answer: ErrorAnswer = serde_json::from_str(&text).unwrap_or(ErrorAnswer {
            error: text.clone(),
            message: String::new(),
            code: 0,
        });
        let said = if answer.message.is_empty() { &answer.error } else { &answer.message };
        let detail = format!("{endpoint}{path}: HTTP {status}, {} (code {})", said.trim(), answer.code);
        if DEFINITE_REFUSALS.contains(&answer.code) {
            Err(Attempt::Refused { token: token_refused(answer.code, said), detail })
        } else {
            Err(Attempt::Unanswered(detail))
        }
    }
}

impl Gateway {
    /// Every answer must come from the etcd cluster that answered first (P6-A1: one authority
    /// is one key in one cluster). An answer from another — an endpoint list mixing two
    /// clusters, an address now serving another cluster — or without a cluster id says nothing
    /// about this authority: the request's effect there, if any, is unknown, so a write
    /// answered so has an unknown outcome (the store poisons the handle) and a read tries the
    /// next endpoint.
    fn check_cluster(&self, answer: &Value) -> Result<(), String> {
        let Some(answered) = answer.pointer("/header/cluster_id").and_then(Value::as_str) else {
            return Err("etcd answered without a cluster id".to_owned());
        };
        let mut cluster = lock(&self.cluster);
        match cluster.as_deref() {
            None => {
                *cluster = Some(answered.to_owned());
                Ok(())
            }
            Some(expected) if expected == answered => Ok(()),
            Some(expected) => Err(format!(
                "answered by another etcd cluster (id {answered}) than the one this client talks to \
                 (id {expected}): is an endpoint of another cluster in the list?"
            )),
        }
    }
}

/// A mutex's value; a panic elsewhere while it was held leaves it usable (no state spans it).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One endpoint's result short of an answer.
enum Attempt {
    /// The connection failed before the request was sent.
    NotSent(String),
    /// Sent, or maybe sent, and no definite answer.
    Unanswered(String),
    /// etcd answered with a definite refusal: what it said, and whether it refused the token.
    Refused { token: bool, detail: String },
}

/// Whether a transport error happened before the request could have been sent.
fn classify(error: ureq::Error, endpoint: &str, path: &str) -> Attempt {
    use ureq::Error as E;
    use ureq::Timeout as T;
    // A TLS error is not among them: nothing says it happened in the handshake rather than
    // while the answer was read, so a write meeting one has an unknown outcome. (A bad
    // certificate still fails safely: the store's open reads first, and reads fail over.)
    let before_sending = match &error {
        E::HostNotFound | E::ConnectionFailed | E::BadUri(_) => true,
        E::Timeout(T::Resolve | T::Connect) => true,
        E::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::AddrNotAvailable
                | std::io::ErrorKind::HostUnreachable
                | std::io::ErrorKind::NetworkUnreachable
        ),
        _ => false,
    };
    let why = format!("{endpoint}{path}: {error}");
    if before_sending { Attempt::NotSent(why) } else { Attempt::Unanswered(why) }
}

/// The certificates in `pem`; `what` names them in errors.
fn certificates(pem: &[u8], what: &str) -> Result<Vec<Certificate<'static>>, CallError> {
    let certificates: Vec<Certificate<'static>> = ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_, _>>()
        .map_err(|e| CallError::Config(format!("{what}: {e}")))?;
    if certificates.is_empty() {
        return Err(CallError::Config(format!("{what}: no certificate in the PEM")));
    }
    Ok(certificates)
}

fn tls_config(tls: &Tls) -> Result<TlsConfig, CallError> {
    let ca = certificates(&tls.ca, "the CA certificate")?;
    let mut config = TlsConfig::builder().root_certs(RootCerts::Specific(Arc::new(ca)));
    if let Some((chain, key)) = &tls.client {
        let chain = certificates(chain, "the client certificate")?;
        let key = PrivateKey::from_pem(key).map_err(|e| CallError::Config(format!("the client key: {e}")))?;
        config = config.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
    }
    Ok(config.build())
}

/// A key or value as the gateway carries it.
pub(crate) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// A key or value from the gateway.
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, String> {
    STANDARD.decode(text).map_err(|e| format!("etcd answered bytes that are not base64: {e}"))
}

/// An int64 the gateway carries as a string (absent: 0, as proto3 JSON omits zeroes).
pub(crate) fn int(value: Option<&Value>) -> Result<u64, String> {
    match value {
        None => Ok(0),
        Some(Value::String(text)) => text.parse().map_err(|_| format!("etcd answered {text:?} for a number")),
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| format!("etcd answered {n} for a revision")),
        Some(other) => Err(format!("etcd answered {other} for a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway() -> Gateway {
        Gateway::new(&Connection::new(vec!["http://127.0.0.1:1".into()])).unwrap()
    }

    /// The first answer names the cluster; every later one must carry the same id.
    #[test]
    fn every_answer_must_come_from_the_first_cluster() {
        let gateway = gateway();
        let from = |id: &str| json!({"header": {"cluster_id": id, "revision": "3"}});
        assert_eq!(gateway.check_cluster(&from("11")), Ok(()));
        assert_eq!(gateway.check_cluster(&from("11")), Ok(()));
        let other = gateway.check_cluster(&from("12")).unwrap_err();
        assert!(other.contains("another etcd cluster (id 12)") && other.contains("(id 11)"), "{other}");
        assert!(gateway.check_cluster(&json!({"succeeded": true})).is_err(), "no cluster id");
        assert!(gateway.check_cluster(&json!({"header": {"cluster_id": 11}})).is_err(), "not a string");
        assert_eq!(gateway.check_cluster(&from("11")), Ok(()), "the first cluster still answers");
    }

    /// A new token may help for an invalid or expired token, and for one issued before etcd's
    /// users or roles changed; for nothing else.
    #[test]
    fn only_a_refused_token_is_renewed() {
        assert!(token_refused(16, "etcdserver: invalid auth token"));
        assert!(token_refused(3, "etcdserver: revision of auth store is old"));
        assert!(token_refused(3, " etcdserver: revision of auth store is old\n"));
        assert!(!token_refused(3, "etcdserver: authentication failed, invalid user ID or password"));
        assert!(!token_refused(7, "etcdserver: permission denied"));
        assert!(!token_refused(9, "etcdserver: revision of auth store is old!"));
    }
}
