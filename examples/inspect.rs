//! Prints the authority record of a data directory, read-only.
//!
//! ```sh
//! cargo run --example inspect -- DATA_DIR [--json]
//! ```
//! Exit 0 with the record; 3 with "no authority record" in an existing directory; 1 for a
//! missing data directory or, naming the failed check, an invalid record; 2 for bad usage. A `metadata/` directory or record that group or others may
//! write, or that another user owns, is reported as a warning on stderr and still read, so an
//! operator can look at a store before fixing it (a controller's open refuses it).

use std::path::PathBuf;
use std::process::ExitCode;

use aerodb::promotion::{StoreError, check_permissions, read_record};
use clap::Parser;

/// Prints the authority record of a data directory, read-only.
#[derive(Parser)]
struct Args {
    /// The data directory (its metadata/authority.record is read).
    #[arg(value_name = "DATA_DIR", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    dir: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let dir = PathBuf::from(&args.dir);
    if !dir.is_dir() {
        eprintln!("data directory {} does not exist", dir.display());
        return ExitCode::from(1);
    }
    match check_permissions(&dir) {
        Ok(problems) => problems.iter().for_each(|p| eprintln!("warning: {p}")),
        Err(error) => eprintln!("warning: cannot check permissions: {error}"),
    }
    match read_record(&dir) {
        Ok(Some(record)) if args.json => match serde_json::to_string(&record) {
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
            eprintln!("no authority record in {}", dir.join("metadata/authority.record").display());
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
