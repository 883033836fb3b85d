//! Prints the authority record of a data directory, or of an etcd key, read-only.
//!
//! ```sh
//! cargo run --example inspect -- DATA_DIR [--json]
//! cargo run --example inspect -- --etcd http://127.0.0.1:2379,... --key /aerodb/c1/authority [--json]
//! ```
//! Exit 0 with the record; 3 with "no authority record" in an existing directory or under an
//! existing etcd cluster's key; 1 for a missing data directory, an unreachable etcd or, naming
//! the failed check, an invalid record; 2 for bad usage. A `metadata/` directory or record that group or others may
//! write, or that another user owns, is reported as a warning on stderr and still read, so an
//! operator can look at a store before fixing it (a controller's open refuses it).

#[path = "common/etcd.rs"]
mod etcd;

use std::path::PathBuf;
use std::process::ExitCode;

use aerodb::promotion::file_store::{check_permissions, read_record};
use aerodb::promotion::{AuthorityRecord, StoreError};
use clap::Parser;

/// Prints the authority record of a data directory, or of an etcd key, read-only.
#[derive(Parser)]
#[command(group = clap::ArgGroup::new("store").required(true).args(["dir", "etcd"]))]
struct Args {
    /// The data directory (its metadata/authority.record is read).
    #[arg(value_name = "DATA_DIR", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    dir: Option<String>,
    /// Or the authority in etcd.
    #[command(flatten)]
    etcd: etcd::EtcdArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (read, place) = match (&args.dir, args.etcd.target()) {
        (Some(dir), _) => {
            let dir = PathBuf::from(dir);
            if !dir.is_dir() {
                eprintln!("data directory {} does not exist", dir.display());
                return ExitCode::from(1);
            }
            match check_permissions(&dir) {
                Ok(problems) => problems.iter().for_each(|p| eprintln!("warning: {p}")),
                Err(error) => eprintln!("warning: cannot check permissions: {error}"),
            }
            (read_record(&dir), dir.join("metadata/authority.record").display().to_string())
        }
        (None, Some((connection, key))) => {
            (aerodb_etcd::read_record(&connection, &key), format!("etcd key {key}"))
        }
        _ => {
            eprintln!("give DATA_DIR, or --etcd ENDPOINTS with --key KEY");
            return ExitCode::from(2);
        }
    };
    report(read, &place, args.json)
}

fn report(read: Result<Option<AuthorityRecord>, StoreError>, place: &str, json: bool) -> ExitCode {
    match read {
        Ok(Some(record)) if json => match serde_json::to_string(&record) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("cannot render the record: {error}");
                ExitCode::from(1)
            }
        },
        Ok(Some(record)) => {
            print!("{record}");
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!("no authority record in {place}");
            ExitCode::from(3)
        }
        Err(error @ StoreError::Corrupt { .. }) => {
            eprintln!("{error}");
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("cannot read the authority record: {error}");
            ExitCode::from(1)
        }
    }
}
