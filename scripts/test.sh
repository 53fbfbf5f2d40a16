#!/usr/bin/env bash
# Runs every check and test: formatting, clippy with warnings as errors, and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
setup_server
setup_clickhouse
setup_browser
log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p embed-runtime --target wasm32-unknown-unknown --all-targets -- -D warnings
cargo clippy -p embed-helper --target wasm32-unknown-unknown --all-targets -- -D warnings
# The end-to-end tests serve the built runtime, so it is built before the test suite.
build_runtime
bash scripts/build-helper.sh
setup_react_fixture
log "cargo test"
cargo test --workspace
log "embed runtime browser tests (headless Chromium)"
CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}" \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test -p embed-runtime --target wasm32-unknown-unknown
CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner cargo test -p embed-helper --target wasm32-unknown-unknown
