//! `aerodb-promote`: the operator's tool for AeroDB promotion (see [`aerodb_cli::tool`]).

fn main() -> std::process::ExitCode {
    aerodb_cli::tool::main(std::env::args_os())
}
