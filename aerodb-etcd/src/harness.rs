//! Real etcd members this process starts on loopback ports, for examples and tests: a cluster
//! of one or three, a member killed with SIGKILL and restarted, all stopped on drop.
//!
//! The `etcd` program comes from Debian's `etcd-server` package (on `PATH`), or from
//! `AERODB_ETCD_BIN`.

use std::fs::{self, OpenOptions};
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::gateway::{self, Connection, Gateway, Kind, PASSWORD_VAR, Tls};

/// The environment variable naming the `etcd` program.
pub const ETCD_VAR: &str = "AERODB_ETCD_BIN";

/// How long a member may take to serve, or the cluster to elect a leader.
const STARTUP_LIMIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);

/// Why a local etcd could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// No etcd program.
    #[error(
        "etcd not found ({0}): install Debian's etcd-server package (apt-get install etcd-server) \
         or set {ETCD_VAR} to the etcd program"
    )]
    NotInstalled(String),
    /// A file or process operation failed.
    #[error("{what}: {error}")]
    Io {
        /// What was being done.
        what: String,
        /// The failure.
        error: io::Error,
    },
    /// A member exited, or the cluster did not serve in time; the end of the member's log.
    #[error("etcd member {name} {problem}; the end of its log {log}:\n{tail}", log = .log.display())]
    Member {
        /// The member.
        name: String,
        /// What went wrong.
        problem: String,
        /// Its log.
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
}

fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> LocalError {
    let what = what.into();
    move |error| LocalError::Io { what, error }
}

fn free_port() -> Result<u16, LocalError> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io_error("binding a loopback port"))?;
    listener.local_addr().map(|a| a.port()).map_err(io_error("reading a loopback port"))
}

/// TLS for the members' client URLs (PEM files); peers stay on plain loopback HTTP.
#[derive(Debug, Clone)]
pub struct MemberTls {
    /// The server certificate, valid for `127.0.0.1`.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// The CA clients' certificates must chain to.
    pub client_ca: PathBuf,
    /// Whether a client must present a certificate.
    pub client_cert_auth: bool,
}

/// One member: its name, ports, data directory and, while running, its process.
#[derive(Debug)]
struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    data: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Member {
    fn client_url(&self, tls: bool) -> String {
        format!("{}://127.0.0.1:{}", if tls { "https" } else { "http" }, self.client_port)
    }

    fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    fn failure(&self, problem: &str) -> LocalError {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        LocalError::Member {
            name: self.name.clone(),
            problem: problem.to_owned(),
            log: self.log.clone(),
            tail,
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A local etcd cluster of one or more members, stopped (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Cluster {
    program: PathBuf,
    members: Vec<Member>,
    initial_cluster: String,
    tls: Option<MemberTls>,
    /// The members' `--auth-token` (`None`: etcd's default, simple tokens).
    auth_token: Option<String>,
    /// How the harness itself connects (TLS and, once enabled, the root user).
    admin: Connection,
}

/// The key pair etcd signs JWT authentication tokens with (PEM files, ECDSA P-256: ES256).
#[derive(Debug, Clone)]
pub struct JwtKeys {
    /// The private key (SEC1 or PKCS#8 PEM).
    pub private_key: PathBuf,
    /// Its public key (SubjectPublicKeyInfo PEM).
    pub public_key: PathBuf,
}

impl Cluster {
    /// Starts `size` members under `root` (which must exist) and waits until the cluster
    /// serves a linearizable read.
    pub fn start(root: &Path, size: usize) -> Result<Cluster, LocalError> {
        Cluster::start_with(root, size, None, None)
    }

    /// As [`start`](Self::start), the client URLs served over TLS; `admin` is how the harness
    /// connects itself (the CA, and a client certificate if one is required).
    pub fn start_tls(root: &Path, size: usize, tls: MemberTls, admin: Tls) -> Result<Cluster, LocalError> {
        Cluster::start_with(root, size, Some((tls, admin)), None)
    }

    /// As [`start`](Self::start), authentication tokens being JWTs signed with `keys` (ES256)
    /// instead of etcd's simple tokens: a token then carries the auth store's revision, and
    /// any change to users or roles makes every token issued before it "old".
    pub fn start_jwt(root: &Path, size: usize, keys: &JwtKeys) -> Result<Cluster, LocalError> {
        let token = format!(
            "jwt,pub-key={},priv-key={},sign-method=ES256",
            keys.public_key.display(),
            keys.private_key.display()
        );
        Cluster::start_with(root, size, None, Some(token))
    }

    fn start_with(
        root: &Path,
        size: usize,
        tls: Option<(MemberTls, Tls)>,
        auth_token: Option<String>,
    ) -> Result<Cluster, LocalError> {
        let program = match std::env::var_os(ETCD_VAR) {
            Some(program) => PathBuf::from(program),
            None => PathBuf::from("etcd"),
        };
        let version = Command::new(&program).arg("--version").output();
        if !version.is_ok_and(|o| o.status.success()) {
            return Err(LocalError::NotInstalled(program.display().to_string()));
        }
        let mut members = Vec::new();
        for index in 0..size {
            let name = format!("m{index}");
            members.push(Member {
                data: root.join(&name),
                log: root.join(format!("{name}.log")),
                name,
                client_port: free_port()?,
                peer_port: free_port()?,
                child: None,
            });
        }
        let initial_cluster =
            members.iter().map(|m| format!("{}={}", m.name, m.peer_url())).collect::<Vec<_>>().join(",");
        let secure = tls.is_some();
        let endpoints = members.iter().map(|m| m.client_url(secure)).collect();
        let mut admin = Connection::new(endpoints).with_timeout(Duration::from_secs(2));
        let tls = tls.map(|(member_tls, admin_tls)| {
            admin = admin.clone().with_tls(admin_tls);
            member_tls
        });
        let mut cluster = Cluster { program, members, initial_cluster, tls, auth_token, admin };
        for index in 0..size {
            cluster.spawn(index, "new")?;
        }
        cluster.wait_serving()?;
        Ok(cluster)
    }

    fn spawn(&mut self, index: usize, state: &str) -> Result<(), LocalError> {
        let secure = self.tls.is_some();
        let member = &mut self.members[index];
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&member.log)
            .map_err(io_error("opening a log"))?;
        let log_err = log.try_clone().map_err(io_error("opening a log"))?;
        let mut etcd = Command::new(&self.program);
        if let Some(tls) = &self.tls {
            etcd.arg("--cert-file").arg(&tls.cert).arg("--key-file").arg(&tls.key);
            etcd.arg("--trusted-ca-file").arg(&tls.client_ca);
            if tls.client_cert_auth {
                etcd.arg("--client-cert-auth");
            }
        }
        if let Some(token) = &self.auth_token {
            etcd.arg("--auth-token").arg(token);
        }
        let child = etcd
            .arg("--name")
            .arg(&member.name)
            .arg("--data-dir")
            .arg(&member.data)
            .arg("--listen-client-urls")
            .arg(member.client_url(secure))
            .arg("--advertise-client-urls")
            .arg(member.client_url(secure))
            .arg("--listen-peer-urls")
            .arg(member.peer_url())
            .arg("--initial-advertise-peer-urls")
            .arg(member.peer_url())
            .arg("--initial-cluster")
            .arg(&self.initial_cluster)
            .arg("--initial-cluster-state")
            .arg(state)
            .arg("--initial-cluster-token")
            .arg("aerodb-test")
            .env_remove("ETCDCTL_API")
            // A member never sees the etcd password a tool read from this environment.
            .env_remove(PASSWORD_VAR)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(io_error(format!("starting etcd member {}", member.name)))?;
        member.child = Some(child);
        Ok(())
    }

    /// Waits until the cluster serves a linearizable read through every running member.
    pub fn wait_serving(&mut self) -> Result<(), LocalError> {
        let deadline = Instant::now() + STARTUP_LIMIT;
        for index in 0..self.members.len() {
            if self.members[index].child.is_none() {
                continue;
            }
            let gateway =
                self.member_gateway(index).map_err(|e| self.members[index].failure(&e.to_string()))?;
            loop {
                let exited =
                    self.members[index].child.as_mut().is_some_and(|c| !matches!(c.try_wait(), Ok(None)));
                if exited {
                    self.members[index].child = None;
                    return Err(self.members[index].failure("exited during startup"));
                }
                if gateway.call("/v3/kv/range", &json!({"key": gateway::encode(b"/")}), Kind::Read).is_ok() {
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(self.members[index].failure("did not serve a linearizable read within 60 s"));
                }
                std::thread::sleep(POLL);
            }
        }
        Ok(())
    }

    /// A gateway to member `index` alone, as the harness connects.
    fn member_gateway(&self, index: usize) -> Result<Gateway, gateway::CallError> {
        let mut connection = self.admin.clone();
        connection.endpoints = vec![self.members[index].client_url(self.tls.is_some())];
        Gateway::new(&connection)
    }

    /// Every member's client URL, in order.
    pub fn endpoints(&self) -> Vec<String> {
        self.admin.endpoints.clone()
    }

    /// A connection to every member, as the harness connects (its TLS settings and, once
    /// [`enable_auth`](Self::enable_auth) ran, the root user).
    pub fn connection(&self) -> Connection {
        self.admin.clone().with_timeout(Duration::from_secs(5))
    }

    /// Adds user `root` with `password` and turns etcd authentication on. The harness then
    /// connects as root, its password allowed over plain `http://` (loopback members).
    pub fn enable_auth(&mut self, password: &str) -> Result<(), String> {
        let gateway = Gateway::new(&self.admin).map_err(|e| e.to_string())?;
        for (path, body) in [
            ("/v3/auth/user/add", json!({"name": "root", "password": password})),
            ("/v3/auth/user/grant", json!({"user": "root", "role": "root"})),
            ("/v3/auth/enable", json!({})),
        ] {
            gateway.call(path, &body, Kind::Write).map_err(|e| e.to_string())?;
        }
        self.admin = self.admin.clone().with_user("root", password).with_plaintext_password_allowed();
        Ok(())
    }

    /// Adds user `name` with `password` (no role): a change to etcd's auth store, which makes
    /// every JWT issued before it old.
    pub fn add_user(&self, name: &str, password: &str) -> Result<(), String> {
        let gateway = Gateway::new(&self.admin).map_err(|e| e.to_string())?;
        gateway
            .call("/v3/auth/user/add", &json!({"name": name, "password": password}), Kind::Write)
            .map(|_: Value| ())
            .map_err(|e| e.to_string())
    }

    /// The index of the member that is leader now, as the running members report it.
    pub fn leader(&self) -> Option<usize> {
        for index in (0..self.members.len()).filter(|i| self.members[*i].child.is_some()) {
            let Ok(gateway) = self.member_gateway(index) else { continue };
            let Ok(status) = gateway.call("/v3/maintenance/status", &json!({}), Kind::Read) else { continue };
            let leader = status.get("leader").cloned();
            let own = status.pointer("/header/member_id").cloned();
            if leader.is_some() && leader == own {
                return Some(index);
            }
        }
        None
    }

    /// Kills member `index` with SIGKILL.
    pub fn kill(&mut self, index: usize) {
        self.members[index].kill();
    }

    /// The process id of member `index`, while it runs.
    pub fn pid(&self, index: usize) -> Option<u32> {
        self.members[index].child.as_ref().map(Child::id)
    }

    /// Pauses member `index` with SIGSTOP: it keeps its connections and answers nothing until
    /// [`resume`](Self::resume)d (a member that froze, not one that died).
    pub fn pause(&self, index: usize) -> Result<(), LocalError> {
        self.signal(index, "-STOP")
    }

    /// Resumes member `index` (SIGCONT) after [`pause`](Self::pause).
    pub fn resume(&self, index: usize) -> Result<(), LocalError> {
        self.signal(index, "-CONT")
    }

    fn signal(&self, index: usize, signal: &str) -> Result<(), LocalError> {
        let member = &self.members[index];
        let Some(pid) = self.pid(index) else {
            return Err(member.failure(&format!("is not running (signal {signal})")));
        };
        let status = Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .map_err(io_error(format!("kill {signal} {pid}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(member.failure(&format!("kill {signal} failed: {status}")))
        }
    }

    /// Restarts member `index` (killed earlier) with its data.
    pub fn restart(&mut self, index: usize) -> Result<(), LocalError> {
        if self.members[index].child.is_none() {
            self.spawn(index, "existing")?;
        }
        Ok(())
    }

    /// Puts `value` under `key` directly, behind any store's back (to tamper in tests).
    pub fn put_raw(&self, key: &str, value: &[u8]) -> Result<(), String> {
        let gateway = Gateway::new(&self.admin).map_err(|e| e.to_string())?;
        let body = json!({"key": gateway::encode(key.as_bytes()), "value": gateway::encode(value)});
        gateway.call("/v3/kv/put", &body, Kind::Write).map(|_: Value| ()).map_err(|e| e.to_string())
    }

    /// Deletes `key` directly, behind any store's back (a mistaken delete, in tests).
    pub fn delete_raw(&self, key: &str) -> Result<(), String> {
        let gateway = Gateway::new(&self.admin).map_err(|e| e.to_string())?;
        let body = json!({"key": gateway::encode(key.as_bytes())});
        gateway.call("/v3/kv/deleterange", &body, Kind::Write).map(|_: Value| ()).map_err(|e| e.to_string())
    }

    /// Adds role `role` with `permission` (`"READ"`, `"WRITE"` or `"READWRITE"`) on `key`, or
    /// with `prefix` on every key that begins with it, as `etcdctl role add ROLE` and `etcdctl
    /// role grant-permission [--prefix] ROLE PERMISSION KEY` do.
    pub fn add_role(&self, role: &str, permission: &str, key: &str, prefix: bool) -> Result<(), String> {
        let gateway = Gateway::new(&self.admin).map_err(|e| e.to_string())?;
        let mut perm = json!({"permType": permission, "key": gateway::encode(key.as_bytes())});
        if prefix {
            perm["range_end"] = json!(gateway::encode(&prefix_end(key.as_bytes())));
        }
        for (path, body) in [
            ("/v3/auth/role/add", json!({"name": role})),
            ("/v3/auth/role/grant", json!({"name": role, "perm": perm})),
        ] {
            gateway.call(path, &body, Kind::Write).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Grants `role` to user `user` (`etcdctl user grant-role USER ROLE`).
    pub fn grant_role(&self, user: &str, role: &str) -> Result<(), String> {
        let gateway = Gateway::new(&self.admin).map_err(|e| e.to_string())?;
        gateway
            .call("/v3/auth/user/grant", &json!({"user": user, "role": role}), Kind::Write)
            .map(|_: Value| ())
            .map_err(|e| e.to_string())
    }
}

/// The end of the range of keys beginning with `prefix`, as etcd's clients compute it: the
/// prefix with its last byte below 0xff raised by one and what follows dropped; all keys
/// (`\0`) when every byte is 0xff.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

impl Drop for Cluster {
    /// No member outlives the process that started it.
    fn drop(&mut self) {
        for member in &mut self.members {
            member.kill();
        }
    }
}

/// The gateway client the store uses, with nothing of the store around it: the baseline of
/// the store's benchmarks (one linearizable get, one compare-and-put transaction).
pub struct BareClient {
    gateway: Gateway,
}

impl std::fmt::Debug for BareClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BareClient").field("endpoints", &self.gateway.endpoints()).finish_non_exhaustive()
    }
}

impl BareClient {
    /// A client for `connection`.
    pub fn new(connection: &Connection) -> Result<BareClient, String> {
        Gateway::new(connection).map(|gateway| BareClient { gateway }).map_err(|e| e.to_string())
    }

    /// One linearizable get of `key`: its value and `mod_revision`, if it exists.
    pub fn get(&self, key: &str) -> Result<Option<(Vec<u8>, u64)>, String> {
        let answer = self
            .gateway
            .call("/v3/kv/range", &json!({"key": gateway::encode(key.as_bytes())}), Kind::Read)
            .map_err(|e| e.to_string())?;
        match answer.pointer("/kvs/0/value").and_then(Value::as_str) {
            Some(value) => {
                Ok(Some((gateway::decode(value)?, gateway::int(answer.pointer("/kvs/0/mod_revision"))?)))
            }
            None => Ok(None),
        }
    }

    /// Puts `value` under `key` in one transaction if the key's `mod_revision` is `revision`
    /// (0: the key was never created); whether it did.
    pub fn compare_and_put(&self, key: &str, revision: u64, value: &[u8]) -> Result<bool, String> {
        let key = gateway::encode(key.as_bytes());
        let compare = if revision == 0 {
            json!({"key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0"})
        } else {
            json!({"key": key, "target": "MOD", "result": "EQUAL", "mod_revision": revision.to_string()})
        };
        let transaction = json!({
            "compare": [compare],
            "success": [{"request_put": {"key": key, "value": gateway::encode(value)}}],
            "failure": [{"request_range": {"key": key}}],
        });
        let answer = self.gateway.call("/v3/kv/txn", &transaction, Kind::Write).map_err(|e| e.to_string())?;
        Ok(answer.get("succeeded").and_then(Value::as_bool) == Some(true))
    }
}

/// How a [`ScriptedGateway`] answers a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnTransaction {
    /// Reads the request, then closes the connection without answering: an unknown outcome.
    HangUp,
    /// Answers `401` with gRPC code 16 (an invalid token): refused, no effect.
    Unauthenticated,
    /// Answers that the compare failed, the key and its companion holding the gateway's value
    /// (none: no key) written again since they were read, and a third key (the fence key a
    /// commit reads, the report key a report swap reads) absent: a conflict.
    Conflict,
    /// Answers `succeeded: true` with a header that has only the cluster id: applied, revision
    /// unknown.
    AppliedWithoutRevision,
    /// Answers 200 with a header and nothing else: neither outcome.
    Unrecognized,
}

/// A scripted etcd gateway on a loopback port, for fault tests no real etcd can stage
/// deterministically: reads find `value` under any key (or no key) — the authority key and its
/// companion alike, read by a transaction of ranges only, recorded as [`READ`](Self::READ);
/// a [`report_key`](crate::report_key) never exists —
/// and other transactions get [`OnTransaction`]. It serves a bounded number of requests, one per
/// connection, for at most 30 s or until [`finish`](Self::finish), and records their paths. The
/// transaction a store handle's open settles with (it puts the fence key) is answered as
/// applied, recorded as [`SETTLE`](Self::SETTLE) and not counted among the requests.
#[derive(Debug)]
pub struct ScriptedGateway {
    endpoint: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    server: std::thread::JoinHandle<Vec<String>>,
}

impl ScriptedGateway {
    /// How the paths record an open's settling transaction.
    pub const SETTLE: &'static str = "/v3/kv/txn (settle)";
    /// How the paths record a read: a transaction of ranges only (the key and its companion).
    pub const READ: &'static str = "/v3/kv/txn (read)";

    /// Serves `requests` requests (settling transactions aside), then stops.
    pub fn start(
        value: Option<Vec<u8>>,
        on_txn: OnTransaction,
        requests: usize,
    ) -> io::Result<ScriptedGateway> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let kvs = |revision: u32| {
            value.as_ref().map_or_else(String::new, |v| {
                format!(
                    r#","kvs":[{{"key":"a2V5","value":"{}","mod_revision":"{revision}"}}],"count":"1""#,
                    gateway::encode(v)
                )
            })
        };
        let range = |revision: u32| {
            format!(r#"{{"response_range":{{"header":{{"revision":"6"}}{}}}}}"#, kvs(revision))
        };
        let answers = Answers {
            range: range(5),
            // The key and its companion written again since they were read; the fence key.
            conflict: format!(
                r#"{{"header":{{"cluster_id":"7","revision":"6"}},"responses":[{},{},{}]}}"#,
                range(6),
                range(6),
                r#"{"response_range":{"header":{"revision":"6"}}}"#
            ),
        };
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = std::sync::Arc::clone(&stop);
        let server = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut paths: Vec<String> = Vec::new();
            let counted = |paths: &[String]| paths.iter().filter(|p| *p != ScriptedGateway::SETTLE).count();
            while counted(&paths) < requests && Instant::now() < deadline {
                let Ok((stream, _)) = listener.accept() else {
                    if stopping.load(std::sync::atomic::Ordering::Acquire) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let Ok(path) = serve(stream, &answers, on_txn) else { continue };
                paths.push(path);
            }
            paths
        });
        Ok(ScriptedGateway { endpoint, stop, server })
    }

    /// Its URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Stops it once no request is waiting (call it when the client is done): the paths served,
    /// in order.
    pub fn finish(self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        self.server.join().unwrap_or_default()
    }
}

/// What a [`ScriptedGateway`] answers a read, and a transaction whose compare failed.
struct Answers {
    /// The range of any key but a report key.
    range: String,
    conflict: String,
}

impl Answers {
    /// The answer to the read `body`: one range per key it reads, a [`report_key`](crate::report_key)
    /// always absent.
    fn read(&self, body: &[u8]) -> String {
        let transaction = serde_json::from_slice::<Value>(body).unwrap_or_default();
        let ranges: Vec<&str> = transaction
            .get("success")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|op| {
                let key = op.pointer("/request_range/key").and_then(Value::as_str).unwrap_or("");
                match gateway::decode(key) {
                    Ok(key) if key.ends_with(b".report") => {
                        r#"{"response_range":{"header":{"revision":"5"}}}"#
                    }
                    _ => self.range.as_str(),
                }
            })
            .collect();
        format!(
            r#"{{"header":{{"cluster_id":"7","revision":"5"}},"succeeded":true,"responses":[{}]}}"#,
            ranges.join(",")
        )
    }
}

/// Answers one request on `stream`: its path.
fn serve(stream: std::net::TcpStream, answers: &Answers, on_txn: OnTransaction) -> io::Result<String> {
    use std::io::{BufRead, BufReader, Read, Write};
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        if header.trim().is_empty() {
            break;
        }
        if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut stream = reader.into_inner();
    let settles = path == "/v3/kv/txn" && puts_a_fence(&body);
    let reads = path == "/v3/kv/txn" && only_reads(&body);
    let (status, answer) = match (path.as_str(), on_txn) {
        _ if settles => {
            ("200 OK", r#"{"header":{"cluster_id":"7","revision":"6"},"succeeded":true}"#.to_owned())
        }
        _ if reads => ("200 OK", answers.read(&body)),
        ("/v3/kv/txn", OnTransaction::HangUp) => return Ok(path),
        ("/v3/kv/txn", OnTransaction::Unauthenticated) => {
            ("401 Unauthorized", r#"{"error":"etcdserver: invalid auth token","code":16}"#.to_owned())
        }
        ("/v3/kv/txn", OnTransaction::Conflict) => ("200 OK", answers.conflict.clone()),
        ("/v3/kv/txn", OnTransaction::AppliedWithoutRevision) => {
            ("200 OK", r#"{"header":{"cluster_id":"7"},"succeeded":true}"#.to_owned())
        }
        ("/v3/kv/txn", OnTransaction::Unrecognized) => {
            ("200 OK", r#"{"header":{"cluster_id":"7","revision":"6"}}"#.to_owned())
        }
        _ => ("200 OK", answers.read(&body)),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    )?;
    Ok(if settles {
        ScriptedGateway::SETTLE.to_owned()
    } else if reads {
        ScriptedGateway::READ.to_owned()
    } else {
        path
    })
}

/// Whether the transaction `body` only reads: no compare, ranges alone.
fn only_reads(body: &[u8]) -> bool {
    let Ok(transaction) = serde_json::from_slice::<Value>(body) else { return false };
    let compares = transaction.get("compare").and_then(Value::as_array).map_or(0, Vec::len);
    let ops = transaction.get("success").and_then(Value::as_array).cloned().unwrap_or_default();
    compares == 0 && !ops.is_empty() && ops.iter().all(|op| op.get("request_range").is_some())
}

/// Whether the transaction `body` puts a fence key (only an open's settle does).
fn puts_a_fence(body: &[u8]) -> bool {
    let Ok(transaction) = serde_json::from_slice::<Value>(body) else { return false };
    let puts = transaction.get("success").and_then(Value::as_array).into_iter().flatten();
    puts.filter_map(|op| op.pointer("/request_put/key").and_then(Value::as_str))
        .filter_map(|key| gateway::decode(key).ok())
        .any(|key| key.ends_with(b".fence"))
}
