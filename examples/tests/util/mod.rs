//! Helpers shared by the example tests that drive Cargo.

use std::process::Command;

/// `cargo`, without the per-crate variables Cargo gave this test.
///
/// Cargo gives a test the variables it gives a crate being built
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, …). Passed on, they reach build
/// scripts that watch them (ring's watches `CARGO_MANIFEST_DIR`), which then
/// rebuild here and again in the next `cargo test`.
pub fn cargo() -> Command {
    let mut cargo = Command::new(env!("CARGO"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let per_crate = [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|p| key.starts_with(p))
            || key == "CARGO_PRIMARY_PACKAGE"
            || key == "CARGO_TARGET_TMPDIR";
        if per_crate {
            cargo.env_remove(&*key);
        }
    }
    cargo
}

/// The Cargo profile this test binary was built with, from its path
/// (`target/<profile dir>/deps/<test>-…`).
pub fn profile() -> String {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .and_then(std::path::Path::file_name)
        .and_then(|d| d.to_str())
        .expect("target/<profile>/deps/<test>")
        .to_string();
    match dir.as_str() {
        "debug" => "dev".to_string(),
        _ => dir,
    }
}
