//! `aerodb-pg-agent`: one per PostgreSQL server (see [`aerodb_cli::agent`]).

// No unwrap, expect or panic outside tests (clippy.toml allows them in tests): every failure
// is a typed error an operator can read.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

fn main() -> std::process::ExitCode {
    aerodb_cli::agent::main(std::env::args_os())
}
