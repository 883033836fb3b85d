//! Prints the library's events (`tracing`, target `aerodb::promotion`) on stdout, one line each.

/// Installs the printing subscriber for the whole process.
pub fn print_events() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .with_target(false)
        .with_ansi(false)
        .without_time()
        .with_env_filter(tracing_subscriber::EnvFilter::new("aerodb=info"))
        .init();
}
