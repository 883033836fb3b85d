//! The examples' `--etcd ENDPOINTS --key KEY` options, shared by every example that can keep
//! the authority in etcd.

/// Where in etcd the authority is kept, if there.
#[derive(clap::Args)]
pub struct EtcdArgs {
    /// etcd client URLs, comma-separated: keep the authority in etcd (needs --key).
    #[arg(long, value_name = "ENDPOINTS", value_delimiter = ',', requires = "key")]
    pub etcd: Option<Vec<String>>,
    /// The authority's etcd key, e.g. /aerodb/CLUSTER/authority (with --etcd).
    #[arg(long, value_name = "KEY", requires = "etcd")]
    pub key: Option<String>,
}

impl EtcdArgs {
    /// The connection and key, when both were given.
    pub fn target(&self) -> Option<(aerodb_etcd::Connection, String)> {
        match (&self.etcd, &self.key) {
            (Some(endpoints), Some(key)) => {
                Some((aerodb_etcd::Connection::new(endpoints.clone()), key.clone()))
            }
            _ => None,
        }
    }
}
