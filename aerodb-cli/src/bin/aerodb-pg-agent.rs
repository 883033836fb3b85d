//! `aerodb-pg-agent`: one per PostgreSQL server (see [`aerodb_cli::agent`]).

fn main() -> std::process::ExitCode {
    aerodb_cli::agent::main(std::env::args_os())
}
