//! The compile-fail spec suite: one batched trybuild run over every forbidden transition and misuse.

/// The compiler the `.stderr` snapshots were taken with: another one words its errors otherwise.
const SNAPSHOT_RUSTC: &str = "rustc 1.95.";

#[test]
fn forbidden_transitions_and_misuse_do_not_compile() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        version.starts_with(SNAPSHOT_RUSTC),
        "the compile-fail snapshots are {SNAPSHOT_RUSTC}x's messages; this is {version:?}: \
         use that compiler, or review and re-bless them (TRYBUILD=overwrite)"
    );
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/forbidden/*.rs");
    cases.compile_fail("tests/ui/misuse/*.rs");
}
