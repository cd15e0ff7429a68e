#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this script).
# Formatting, lints and doc links first (cheap, and a clean CI must not trip
# on them),
# then every test and doctest in debug, then the integration tests again in
# release, where the optimiser gets to rearrange code around stack switches.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo doc (broken links are errors; private items too, then public)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --document-private-items --quiet
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --quiet

echo "== cargo test (debug, with doctests)"
cargo test --workspace

echo "== the vendored generator's own tests (green's patches are tested there)"
cargo test -p generator --lib

echo "== cargo test (release)"
cargo test --workspace --release --tests
