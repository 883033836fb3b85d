//! Refusals at the door against a real etcd member (Debian's `etcd-server`): a wrong
//! password, a missing client certificate and an untrusted server certificate are each
//! refused with a clear error, and nothing is written. Certificates are made by the test
//! (rcgen). Ignored by `cargo test --workspace`; `.ci/run` runs them:
//!
//! ```sh
//! cargo test -p aerodb-etcd --test security -- --ignored
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use aerodb_core::NodeId;
use aerodb_etcd::local::{Cluster, MemberTls};
use aerodb_etcd::{Connection, EtcdAuthorityStore, Tls};
use aerodb_promotion::{AuthorityStore, StoreError};
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

fn node(name: &str) -> NodeId {
    NodeId::new(name).unwrap()
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

    let error = refused(&Connection::new(cluster.endpoints()).with_user("root", "wrong"));
    println!("wrong password: {error}");
    assert!(error.contains("authentication failed"), "{error}");
    let error = refused(&Connection::new(cluster.endpoints()));
    println!("no user: {error}");

    let record = EtcdAuthorityStore::open(&cluster.connection(), KEY).unwrap().load().unwrap().unwrap();
    assert_eq!((record.epoch().get(), record.primary()), (1, node("n0")), "nothing was written");
}
