//! Prints the authority record of a data directory, or of an etcd key, read-only: the operator
//! tool's `inspect`, run in this process, so there is one implementation of it.
//!
//! ```sh
//! cargo run --example inspect -- DATA_DIR [--json]
//! cargo run --example inspect -- --etcd http://127.0.0.1:2379,... --key /aerodb/c1/authority [--json]
//! ```
//! The same as `aerodb-promote --data-dir DATA_DIR inspect [--json]` (or with the tool's etcd
//! options instead of the directory), exit codes included: 0 with the record; 3 with "no
//! authority record" in an existing directory or under an existing etcd cluster's key; 1 for a
//! missing data directory, an unreachable etcd or, naming the failed check, an invalid record;
//! 2 for bad usage. A `metadata/` directory or record that group or others may write, or that
//! another user owns, is reported as a warning on stderr and still read, so an operator can
//! look at a store before fixing it (a controller's open refuses it).

use std::ffi::OsString;
use std::process::ExitCode;

fn main() -> ExitCode {
    aerodb_cli::tool::main(tool_args(std::env::args_os().skip(1)))
}

/// This example's command line as the tool's: a leading `DATA_DIR` is `--data-dir DATA_DIR`,
/// `--json` goes to `inspect`, every other option is the tool's own store option.
fn tool_args(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    let mut tool = vec![OsString::from("aerodb-promote")];
    let mut json = false;
    for arg in args {
        if arg == "--json" {
            json = true;
            continue;
        }
        // The first argument but `--json` (so `--json DATA_DIR` is read as well).
        if tool.len() == 1 && !arg.to_string_lossy().starts_with('-') {
            tool.push("--data-dir".into());
        }
        tool.push(arg);
    }
    tool.push("inspect".into());
    if json {
        tool.push("--json".into());
    }
    tool
}
