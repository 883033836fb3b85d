//! A cluster file: where each node's server is, one `NODE CONNINFO` line per node.
//!
//! ```text
//! # node   conninfo (libpq key=value form)
//! pg1      host=10.0.0.1 port=5432 user=postgres dbname=postgres
//! pg2      host=10.0.0.2 port=5432 user=postgres dbname=postgres
//! ```
//! Blank lines and lines starting with `#` are comments. Anything else malformed, a node named
//! twice (also up to ASCII case, as PostgreSQL compares standby names), or a file naming no
//! node is refused with its line: a node left out silently would hide a server from every
//! observation.

use std::collections::BTreeMap;
use std::path::Path;

use aerodb_core::NodeId;

/// Why a cluster file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The file could not be read.
    #[error("cluster file {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// The failure.
        error: std::io::Error,
    },
    /// A line that is not `NODE CONNINFO`.
    #[error("cluster file line {line}: {problem}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// No node at all.
    #[error("the cluster file names no node")]
    Empty,
}

/// Every node of the cluster and how to reach its server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    nodes: BTreeMap<NodeId, String>,
}

impl Cluster {
    /// Reads the cluster file at `path`.
    pub fn read(path: &Path) -> Result<Cluster, ClusterError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| ClusterError::Read { path: path.display().to_string(), error })?;
        Cluster::parse(&text)
    }

    /// Parses a cluster file's text.
    pub fn parse(text: &str) -> Result<Cluster, ClusterError> {
        let mut nodes = BTreeMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let bad = |problem: String| ClusterError::Line { line, problem };
            let (id, conninfo) = trimmed
                .split_once(char::is_whitespace)
                .ok_or_else(|| bad(format!("{trimmed:?} is not `NODE CONNINFO`")))?;
            let id = NodeId::new(id).map_err(|e| bad(e.to_string()))?;
            let conninfo = conninfo.trim();
            conninfo.parse::<postgres::Config>().map_err(|e| bad(format!("conninfo of {id}: {e}")))?;
            // PostgreSQL matches standby names ignoring case (P6-S1): two ids equal up to case
            // would be one name in every synchronous rule, and a derived bound could miss one.
            if let Some(other) = nodes.keys().find(|n: &&NodeId| n.as_str().eq_ignore_ascii_case(id.as_str()))
            {
                return Err(bad(if *other == id {
                    format!("node {id} is named twice")
                } else {
                    format!(
                        "node {id} and node {other} differ only in case, which PostgreSQL ignores in standby names"
                    )
                }));
            }
            nodes.insert(id, conninfo.to_owned());
        }
        if nodes.is_empty() {
            return Err(ClusterError::Empty);
        }
        Ok(Cluster { nodes })
    }

    /// Every node, in id order.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeId> {
        self.nodes.keys()
    }

    /// The conninfo of `node`'s server, as written.
    pub fn conninfo(&self, node: &NodeId) -> Option<&str> {
        self.nodes.get(node).map(String::as_str)
    }

    /// The parsed connection settings of `node`'s server.
    pub fn config(&self, node: &NodeId) -> Option<postgres::Config> {
        self.conninfo(node).and_then(|text| text.parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_file_names_each_node_once() {
        let cluster =
            Cluster::parse("# comment\n\npg2 host=127.0.0.1 port=2\n  pg1\thost=127.0.0.1 port=1  \n")
                .unwrap();
        let ids: Vec<&str> = cluster.nodes().map(NodeId::as_str).collect();
        assert_eq!(ids, ["pg1", "pg2"]);
        assert_eq!(cluster.conninfo(&NodeId::new("pg1").unwrap()), Some("host=127.0.0.1 port=1"));
        assert_eq!(cluster.config(&NodeId::new("pg2").unwrap()).unwrap().get_ports(), [2]);
    }

    #[test]
    fn malformed_lines_are_refused_with_their_number() {
        for (text, line) in [
            ("pg1 host=a\npg1 host=b\n", 2),
            ("pg1 host=a\npg2 host=b\nPG1 host=c\n", 3),
            ("pg1\n", 1),
            ("pg/1 host=a\n", 1),
            ("# c\npg1 host=a port=notaport\n", 2),
        ] {
            match Cluster::parse(text) {
                Err(ClusterError::Line { line: got, .. }) => assert_eq!(got, line, "{text:?}"),
                other => panic!("{text:?} gave {other:?}"),
            }
        }
        assert!(matches!(Cluster::parse("# only\n\n"), Err(ClusterError::Empty)));
    }
}
