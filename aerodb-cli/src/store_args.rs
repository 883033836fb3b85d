//! What `aerodb-promote` and `aerodb-pg-agent` share: where the authority is kept, as command
//! line options (`--data-dir DIR`, or `--etcd ENDPOINTS --key KEY` with TLS and authentication),
//! one implementation for both tools.

use std::path::{Path, PathBuf};

use aerodb_etcd::{Connection, EtcdAuthorityStore, Tls};
use aerodb_promotion::file_store::{check_permissions, read_record, read_report};
use aerodb_promotion::{AuthorityRecord, AuthorityStore, FileAuthorityStore, PrimaryReport, StoreError};

/// The environment variable holding the etcd password (never a command-line argument).
pub const PASSWORD_VAR: &str = "AERODB_ETCD_PASSWORD";

/// Every store option's id: one of them at least is required.
const STORE_OPTIONS: [&str; 8] = [
    "data_dir",
    "etcd",
    "key",
    "etcd_ca",
    "etcd_cert",
    "etcd_key",
    "etcd_user",
    "etcd_allow_plaintext_password",
];

/// Where the authority is kept, as options: exactly one of `--data-dir` and `--etcd`.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
#[command(group = clap::ArgGroup::new("store").required(true).multiple(true).args(STORE_OPTIONS))]
pub struct StoreArgs {
    /// The data directory whose metadata/authority.record holds the authority.
    #[arg(long, value_name = "DIR", value_parser = non_empty_path, conflicts_with = "etcd")]
    pub data_dir: Option<PathBuf>,
    /// Or the authority in etcd.
    #[command(flatten)]
    pub etcd: EtcdArgs,
}

/// The authority in etcd, as options (`--etcd ENDPOINTS --key KEY`, with TLS and
/// authentication): the tools' and, beside their own stores, the examples'.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct EtcdArgs {
    /// etcd client URLs, comma-separated: the authority is in etcd instead (needs --key).
    #[arg(long, value_name = "ENDPOINTS", value_delimiter = ',', requires = "key")]
    pub etcd: Option<Vec<String>>,
    /// The authority's etcd key, e.g. /aerodb/CLUSTER/authority.
    #[arg(long, value_name = "KEY", requires = "etcd")]
    pub key: Option<String>,
    /// The CA certificate (PEM) etcd's server certificates must chain to.
    #[arg(long, value_name = "FILE", requires = "etcd")]
    pub etcd_ca: Option<PathBuf>,
    /// A client certificate (PEM) to present to etcd (needs --etcd-key and --etcd-ca).
    #[arg(long, value_name = "FILE", requires_all = ["etcd_key", "etcd_ca"])]
    pub etcd_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "etcd_cert")]
    pub etcd_key: Option<PathBuf>,
    /// The etcd user; the password is read from AERODB_ETCD_PASSWORD.
    #[arg(long, value_name = "NAME", requires = "etcd")]
    pub etcd_user: Option<String>,
    /// Send the etcd password over plain http:// endpoints (refused without this).
    #[arg(long, requires = "etcd_user")]
    pub etcd_allow_plaintext_password: bool,
}

fn non_empty_path(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() { Err("the path is empty".to_owned()) } else { Ok(PathBuf::from(text)) }
}

/// Why the authority could not be reached or read.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    /// The options cannot be used as given (a file that cannot be read, a missing password).
    #[error("{0}")]
    Usage(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The data directory does not exist (a missing directory is not an empty store).
    #[error("data directory {0} does not exist")]
    NoDirectory(PathBuf),
}

/// Where the authority is kept.
#[derive(Debug, Clone)]
pub enum Place {
    /// A data directory.
    Dir(PathBuf),
    /// A key in etcd.
    Etcd(Connection, String),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Dir(dir) => write!(f, "{}", dir.display()),
            Place::Etcd(_, key) => write!(f, "etcd key {key}"),
        }
    }
}

impl StoreArgs {
    /// The place these options name, with the etcd connection's files and password read.
    pub fn place(&self) -> Result<Place, PlaceError> {
        if let Some((connection, key)) = self.etcd.target()? {
            return Ok(Place::Etcd(connection, key));
        }
        self.data_dir
            .clone()
            .map(Place::Dir)
            .ok_or_else(|| PlaceError::Usage("give --data-dir or --etcd".to_owned()))
    }
}

impl EtcdArgs {
    /// The connection and key, when `--etcd` and `--key` were given, with the connection's
    /// files and password read.
    pub fn target(&self) -> Result<Option<(Connection, String)>, PlaceError> {
        let (Some(endpoints), Some(key)) = (&self.etcd, &self.key) else {
            return Ok(None);
        };
        let file = |path: &PathBuf| {
            std::fs::read(path).map_err(|e| PlaceError::Usage(format!("{}: {e}", path.display())))
        };
        let mut connection = Connection::new(endpoints.clone());
        if let Some(ca) = &self.etcd_ca {
            let mut tls = Tls::new(file(ca)?);
            if let (Some(cert), Some(key)) = (&self.etcd_cert, &self.etcd_key) {
                tls = tls.with_client(file(cert)?, file(key)?);
            }
            connection = connection.with_tls(tls);
        }
        if let Some(user) = &self.etcd_user {
            let password = std::env::var(PASSWORD_VAR).map_err(|_| {
                PlaceError::Usage(format!("--etcd-user needs the password in {PASSWORD_VAR}"))
            })?;
            connection = connection.with_user(user, &password);
            if self.etcd_allow_plaintext_password {
                connection = connection.with_plaintext_password_allowed();
            }
        }
        Ok(Some((connection, key.clone())))
    }
}

impl Place {
    /// The store, for a controller: a data directory must exist unless `create`.
    pub fn open(&self, create: bool) -> Result<Box<dyn AuthorityStore>, PlaceError> {
        match self {
            Place::Dir(dir) => {
                if !create {
                    existing(dir)?;
                }
                Ok(Box::new(FileAuthorityStore::open(dir)?))
            }
            Place::Etcd(connection, key) => Ok(Box::new(EtcdAuthorityStore::open(connection, key)?)),
        }
    }

    /// The durable record, read-only; a data directory's permission problems go to `warn`.
    pub fn read(&self, mut warn: impl FnMut(String)) -> Result<Option<AuthorityRecord>, PlaceError> {
        Ok(match self {
            Place::Dir(dir) => {
                existing(dir)?;
                for problem in check_permissions(dir)? {
                    warn(problem.to_string());
                }
                read_record(dir)?
            }
            Place::Etcd(connection, key) => aerodb_etcd::read_record(connection, key)?,
        })
    }
}

impl Place {
    /// The primary's report beside the authority, read-only.
    pub fn read_report(&self) -> Result<Option<PrimaryReport>, PlaceError> {
        Ok(match self {
            Place::Dir(dir) => {
                existing(dir)?;
                read_report(dir)?
            }
            // Never through a handle: its open writes (it settles), racing every commit.
            Place::Etcd(connection, key) => aerodb_etcd::read_report(connection, key)?,
        })
    }
}

/// A missing data directory is not an empty store.
pub fn existing(dir: &Path) -> Result<(), PlaceError> {
    if dir.is_dir() { Ok(()) } else { Err(PlaceError::NoDirectory(dir.to_owned())) }
}
