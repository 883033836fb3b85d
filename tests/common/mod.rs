//! What the workspace's own integration tests share.

use std::path::PathBuf;

/// The example `name` as `cargo test --workspace` (or `cargo build --example <name>`) built it,
/// in `target/<profile>/examples/` beside this test binary's `deps/`. Cargo names only a test's
/// own package's binaries (`CARGO_BIN_EXE_<name>`, as aerodb-cli's tests find `aerodb-promote`);
/// an example has no such variable, so it is found here, in one place.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps/<test>");
    let program = profile.join("examples").join(name);
    assert!(program.is_file(), "{} missing: cargo build --example {name}", program.display());
    program
}
