//! `aerodb-promote`: the operator's tool for AeroDB promotion (see [`aerodb_cli::tool`]).

// No unwrap, expect or panic outside tests (clippy.toml allows them in tests): every failure
// is a typed error an operator can read.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

fn main() -> std::process::ExitCode {
    aerodb_cli::tool::main(std::env::args_os())
}
