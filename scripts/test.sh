#!/usr/bin/env bash
# Runs every check and test: formatting, clippy with warnings as errors, and the whole test suite.
# Prints each phase's duration as it ends and a summary at the end (CI shows where time goes).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
trap phase_summary EXIT
phase "install: compilers, libduckdb, crates" setup_server
phase "install: ClickHouse" setup_clickhouse
phase "install: standardwebhooks (PyPI; verifies webhook signatures in the tests)" setup_standardwebhooks
phase "install: browser toolchain (Chromium, wasm-opt, wasm-bindgen, Trunk, esbuild)" setup_browser
phase "cargo fmt --check" cargo fmt --all --check
phase "cargo clippy (native)" cargo clippy --workspace --all-targets -- -D warnings
phase "cargo clippy (wasm32: runtime, helper)" \
  cargo clippy -p embed-runtime -p embed-helper --target wasm32-unknown-unknown --all-targets -- -D warnings
# The end-to-end tests serve the built runtime and helper, so both are built before the suite;
# tests/tests/pack.rs packs the helper and builds the fixture's Next.js app itself (~1 minute).
phase "build: embed runtime (trunk)" build_runtime
phase "build: embed helper (npm package)" bash scripts/build-helper.sh
phase "install: React fixture (npm ci)" setup_react_fixture
phase "install: package fixture (Next.js, Vite, esbuild, TypeScript; npm ci)" setup_pack_fixture
phase "size: embed helper (30 KB gzipped, React entry 2 KB)" bash scripts/bench_helper_size.sh
phase "build: tests" cargo test --workspace --no-run
phase "cargo test" cargo test --workspace
# The Rust SDK's tests ran in `cargo test --workspace`; this adds the Node SDK's.
phase "sdk tests (Node)" env EMBAN_SDK_RUST_DONE=1 bash scripts/test-sdk.sh
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
phase "browser tests: embed runtime (headless Chromium)" cargo test -p embed-runtime --target wasm32-unknown-unknown
phase "browser tests: embed helper (headless Chromium)" cargo test -p embed-helper --target wasm32-unknown-unknown
