//! Refusals at the door against a real etcd member (Debian's `etcd-server`): a wrong
//! password, a missing client certificate and an untrusted server certificate are each
//! refused with a clear error, and nothing is written. Certificates are made by the test
//! (rcgen). Ignored by `cargo test --workspace`; `.ci/run` runs them:
//!
//! ```sh
//! cargo test -p aerodb-etcd --test security -- --ignored
//! ```

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use aerodb_etcd::harness::{Cluster, MemberTls};
use aerodb_etcd::{Connection, EtcdAuthorityStore, Tls};
use aerodb_promotion::{AuthorityStore, StoreError};
use common::node;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

const KEY: &str = "/aerodb/security/authority";

/// A certificate authority: its issuer and its certificate (PEM).
fn authority(name: &str) -> (Issuer<'static, KeyPair>, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let certificate = params.self_signed(&key).unwrap();
    (Issuer::new(params, key), certificate.pem())
}

/// A certificate for `127.0.0.1` signed by `issuer`, usable by a server and a client: (certificate, key) PEM.
fn leaf(issuer: &Issuer<'static, KeyPair>) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    params.extended_key_usages =
        vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    let certificate = params.signed_by(&key, issuer).unwrap();
    (certificate.pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn refused(connection: &Connection) -> String {
    match EtcdAuthorityStore::open(connection, KEY) {
        Err(error @ StoreError::Backend { .. }) => error.to_string(),
        Err(other) => panic!("expected a backend refusal, got {other}"),
        Ok(store) => panic!("opened {store:?}"),
    }
}

#[test]
#[ignore = "needs etcd (Debian's etcd-server); .ci/run runs it"]
fn tls_refuses_a_missing_client_certificate_and_an_untrusted_server() {
    let dir = tempfile::Builder::new().prefix("aerodb-etcd-").tempdir().unwrap();
    let (ca, ca_pem) = authority("aerodb test CA");
    let (_stranger, stranger_pem) = authority("some other CA");
    let (server_cert, server_key) = leaf(&ca);
    let (client_cert, client_key) = leaf(&ca);
    let tls = MemberTls {
        cert: write(dir.path(), "server.pem", &server_cert),
        key: write(dir.path(), "server-key.pem", &server_key),
        client_ca: write(dir.path(), "ca.pem", &ca_pem),
        client_cert_auth: true,
    };
    let trusted =
        Tls::new(ca_pem.clone().into()).with_client(client_cert.clone().into(), client_key.clone().into());
    let cluster = Cluster::start_tls(dir.path(), 1, tls, trusted).unwrap_or_else(|e| panic!("{e}"));
    EtcdAuthorityStore::open(&cluster.connection(), KEY).unwrap().bootstrap(node("n0")).unwrap();

    let no_client_certificate = Connection::new(cluster.endpoints()).with_tls(Tls::new(ca_pem.into()));
    let error = refused(&no_client_certificate);
    println!("no client certificate: {error}");
    let untrusted_server = Connection::new(cluster.endpoints())
        .with_tls(Tls::new(stranger_pem.into()).with_client(client_cert.into(), client_key.into()));
    let error = refused(&untrusted_server);
    println!("untrusted server: {error}");
    assert!(error.contains("certificate") || error.contains("Certificate"), "{error}");
    let plain = Connection::new(cluster.endpoints());
    assert!(matches!(
        EtcdAuthorityStore::open(&plain, KEY),
        Err(StoreError::Backend { operation: "open", .. })
    ));

    let record = EtcdAuthorityStore::open(&cluster.connection(), KEY).unwrap().load().unwrap().unwrap();
    assert_eq!((record.epoch().get(), record.primary()), (1, node("n0")), "nothing was written");
}

#[test]
#[ignore = "needs etcd (Debian's etcd-server); .ci/run runs it"]
fn a_wrong_password_is_refused_and_writes_nothing() {
    let dir = tempfile::Builder::new().prefix("aerodb-etcd-").tempdir().unwrap();
    let mut cluster = Cluster::start(dir.path(), 1).unwrap_or_else(|e| panic!("{e}"));
    cluster.enable_auth("right horse battery").unwrap();
    EtcdAuthorityStore::open(&cluster.connection(), KEY).unwrap().bootstrap(node("n0")).unwrap();

    // A password over plain http:// is refused before anything is sent, unless allowed.
    let error = refused(&Connection::new(cluster.endpoints()).with_user("root", "right horse battery"));
    println!("plain http: {error}");
    assert!(error.contains("plain http"), "{error}");
    let allowed = Connection::new(cluster.endpoints())
        .with_user("root", "right horse battery")
        .with_plaintext_password_allowed();
    assert!(EtcdAuthorityStore::open(&allowed, KEY).is_ok(), "allowed explicitly");

    let error = refused(
        &Connection::new(cluster.endpoints()).with_user("root", "wrong").with_plaintext_password_allowed(),
    );
    println!("wrong password: {error}");
    assert!(error.contains("authentication failed"), "{error}");
    let error = refused(&Connection::new(cluster.endpoints()));
    println!("no user: {error}");

    let record = EtcdAuthorityStore::open(&cluster.connection(), KEY).unwrap().load().unwrap().unwrap();
    assert_eq!((record.epoch().get(), record.primary()), (1, node("n0")), "nothing was written");
}

/// A long-lived handle and follower with JWT tokens: a change to etcd's users or roles makes
/// every token issued before it "old" (`revision of auth store is old`), and the client
/// authenticates again, as for an expired token, for reads and writes alike: a follower still
/// learns of a newer authority.
#[test]
#[ignore = "needs etcd (Debian's etcd-server); .ci/run runs it"]
fn with_jwt_tokens_a_change_to_users_does_not_lock_out_a_long_lived_handle() {
    use aerodb_etcd::AuthorityFollower;
    use aerodb_etcd::harness::JwtKeys;
    use aerodb_promotion::WriteGate;
    let dir = tempfile::Builder::new().prefix("aerodb-etcd-").tempdir().unwrap();
    let signing = KeyPair::generate().unwrap();
    let keys = JwtKeys {
        private_key: write(dir.path(), "jwt.pem", &signing.serialize_pem()),
        public_key: write(dir.path(), "jwt.pub.pem", &signing.public_key_pem()),
    };
    let mut cluster = Cluster::start_jwt(dir.path(), 1, &keys).unwrap_or_else(|e| panic!("{e}"));
    cluster.enable_auth("pw").unwrap();
    let mut store = EtcdAuthorityStore::open(&cluster.connection(), KEY).unwrap();
    let first = store.bootstrap(node("n0")).unwrap();
    let follower = AuthorityFollower::new(&cluster.connection(), KEY).unwrap();
    let gate = WriteGate::replica(node("n1"), Some(&first)).unwrap();
    follower.poll(&gate).unwrap();

    cluster.add_user("reader", "pw2").unwrap();
    assert_eq!(store.load().unwrap(), Some(first.clone()), "a read after the auth store changed");
    assert_eq!(follower.poll(&gate).unwrap(), Some(first), "a follower's poll after the auth store changed");
    cluster.add_user("writer", "pw3").unwrap();
    let error = store.bootstrap(node("n1")).unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "a write reaches etcd and is decided there: {error}");
}

/// An answer from another etcd cluster than the one the handle opened on (an endpoint list
/// that mixes two clusters, an address reused) is never taken as this authority's: a read
/// fails, and a write answered there has an unknown outcome and poisons the handle.
#[test]
#[ignore = "needs etcd (Debian's etcd-server); .ci/run runs it"]
fn an_answer_from_another_cluster_is_refused() {
    let dir = tempfile::Builder::new().prefix("aerodb-etcd-").tempdir().unwrap();
    std::fs::create_dir(dir.path().join("a")).unwrap();
    std::fs::create_dir(dir.path().join("b")).unwrap();
    let first = Cluster::start(&dir.path().join("a"), 1).unwrap_or_else(|e| panic!("{e}"));
    let other = Cluster::start(&dir.path().join("b"), 1).unwrap_or_else(|e| panic!("{e}"));
    let both = Connection::new(vec![first.endpoints()[0].clone(), other.endpoints()[0].clone()])
        .with_timeout(std::time::Duration::from_secs(2));
    let mut store = EtcdAuthorityStore::open(&both, KEY).unwrap();
    drop(first);

    let error = store.load().expect_err("a read answered by another cluster");
    println!("read: {error}");
    assert!(error.to_string().contains("another etcd cluster"), "{error}");
    let error = store.bootstrap(node("n0")).expect_err("a write answered by another cluster");
    println!("write: {error}");
    assert!(matches!(error, StoreError::OutcomeUnknown { .. }), "{error}");
    assert!(matches!(store.load(), Err(StoreError::Poisoned(_))));
}

/// The variable that marks the child run of the test below.
const CHILD: &str = "AERODB_TEST_MEMBER_ENVIRONMENT";

/// The etcd password a tool read from its environment does not reach the processes it starts:
/// etcd members started by `harness::Cluster` run without `AERODB_ETCD_PASSWORD`. (The test runs
/// itself again with the password in its environment; that child starts a member and reads
/// the member's environment from /proc.)
#[test]
#[ignore = "needs etcd (Debian's etcd-server); .ci/run runs it"]
fn etcd_members_never_inherit_the_etcd_password() {
    use aerodb_etcd::PASSWORD_VAR;
    if let Some(root) = std::env::var_os(CHILD) {
        assert!(std::env::var_os(PASSWORD_VAR).is_some(), "the child runs with the password set");
        let cluster = Cluster::start(Path::new(&root), 1).unwrap_or_else(|e| panic!("{e}"));
        let pid = cluster.pid(0).expect("the member runs");
        let environment = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        let inherited = environment
            .split(|b| *b == 0)
            .any(|entry| entry.starts_with(format!("{PASSWORD_VAR}=").as_bytes()));
        assert!(!inherited, "etcd member {pid} inherited {PASSWORD_VAR}");
        return;
    }
    let dir = tempfile::Builder::new().prefix("aerodb-etcd-").tempdir().unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "etcd_members_never_inherit_the_etcd_password", "--nocapture"])
        .env(CHILD, dir.path())
        .env(PASSWORD_VAR, "a secret nobody else may read")
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the child run failed:\n{text}");
    assert!(text.contains("1 passed"), "the child ran nothing:\n{text}");
}

/// docs/ETCD.md's access control, against a real member with authentication on: controllers
/// get read-write on the prefix `<key>` (the key, `<key>.fence`, `<key>.highest`,
/// `<key>.report`), nodes read on the same prefix. A controller writes and reads the primary's
/// report through that prefix. A node's follower and `read_record` work; every write it tries —
/// a store handle's open (which settles), a put of the key, a put of the report key — is
/// refused, and nothing changes. Read on the key alone is not enough: a reader needs the
/// companion too.
#[test]
#[ignore = "needs etcd (Debian's etcd-server); .ci/run runs it"]
fn a_read_only_node_follows_the_authority_and_cannot_write_it() {
    use aerodb_core::Epoch;
    use aerodb_etcd::AuthorityFollower;
    use aerodb_etcd::harness::BareClient;
    use aerodb_promotion::{PrimaryReport, WriteGate};
    let dir = tempfile::Builder::new().prefix("aerodb-etcd-").tempdir().unwrap();
    let mut cluster = Cluster::start(dir.path(), 1).unwrap_or_else(|e| panic!("{e}"));
    cluster.enable_auth("root password").unwrap();
    cluster.add_role("aerodb-controller", "READWRITE", KEY, true).unwrap();
    cluster.add_role("aerodb-node", "READ", KEY, true).unwrap();
    cluster.add_role("key-only", "READ", KEY, false).unwrap();
    for (user, role) in
        [("controller-1", "aerodb-controller"), ("node-a", "aerodb-node"), ("narrow", "key-only")]
    {
        cluster.add_user(user, "pw").unwrap();
        cluster.grant_role(user, role).unwrap();
    }
    let as_user = |user: &str| {
        Connection::new(cluster.endpoints()).with_user(user, "pw").with_plaintext_password_allowed()
    };

    let mut controller = EtcdAuthorityStore::open(&as_user("controller-1"), KEY).unwrap();
    let first = controller.bootstrap(node("n0")).unwrap();
    let report = PrimaryReport::new(first.epoch(), first.primary());
    controller.swap_report(None, &report).unwrap();
    assert_eq!(controller.load_report().unwrap(), Some(report), "the prefix covers the report key");
    drop(controller);
    let root = BareClient::new(&cluster.connection()).unwrap();
    let before = root.get(KEY).unwrap().expect("the controller wrote the record");
    let report_key = aerodb_etcd::report_key(KEY);
    let reported = root.get(&report_key).unwrap().expect("the controller wrote the report");

    let node_a = as_user("node-a");
    let follower = AuthorityFollower::new(&node_a, KEY).unwrap();
    let gate = WriteGate::replica(node("n1"), Some(&first)).unwrap();
    assert_eq!(follower.poll(&gate).unwrap(), Some(first.clone()), "a read-only node follows");
    assert_eq!(gate.epoch(), Epoch::INITIAL);
    assert_eq!(aerodb_etcd::read_record(&node_a, KEY).unwrap(), Some(first));
    let error = EtcdAuthorityStore::open(&node_a, KEY).unwrap_err();
    println!("a node opening a store handle: {error}");
    assert!(error.to_string().contains("permission denied"), "{error}");
    let put = BareClient::new(&node_a).unwrap().compare_and_put(KEY, before.1, b"not an authority");
    println!("a node putting the key: {put:?}");
    assert!(put.is_err_and(|e| e.contains("permission denied")));
    assert_eq!(root.get(KEY).unwrap(), Some(before), "nothing changed");
    let put = BareClient::new(&node_a).unwrap().compare_and_put(&report_key, reported.1, b"not a report");
    println!("a node putting the report key: {put:?}");
    assert!(put.is_err_and(|e| e.contains("permission denied")));
    assert_eq!(root.get(&report_key).unwrap(), Some(reported), "nothing changed");

    let error = AuthorityFollower::new(&as_user("narrow"), KEY).unwrap().poll(&gate).unwrap_err();
    println!("read on the key alone: {error}");
    assert!(error.to_string().contains("permission denied"), "{error}");
}
