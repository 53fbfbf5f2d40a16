#!/usr/bin/env bash
# Builds and starts the Emban server on the embedded default (DuckDB + SQLite in ./data), with
# the demo org seeded on first start. Extra arguments go to `emban serve`.
#
# The first run on a new machine installs tools and compiles everything (BENCHMARKS.md records
# each phase on this kind of machine, ~20 minutes in all); later runs start in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
if [ ! -x "$CARGO_TARGET_DIR/debug/emban" ]; then
  log "first run: installing tools and compiling the server, the embed runtime and the helper."
  log "this takes about 20 minutes on 2 cores (later runs: seconds); each step says what it does."
fi
phase "install: compilers, libduckdb, crates" setup_server
phase "install: wasm toolchain (wasm-opt, wasm-bindgen, Trunk, esbuild; first time ~5 min)" setup_wasm_tools
phase "build: embed runtime, Leptos → wasm (first time ~4 min)" build_runtime
phase "build: embed helper, the host-page npm package (first time ~1 min)" bash scripts/build-helper.sh
phase "build: server (first time ~8 min)" cargo build -p emban-host-server --bin emban
phase_summary
# The demo org is opt-in for `emban serve`; the README's run command turns it on.
export EMBAN_DEMO="${EMBAN_DEMO:-true}"
exec "$CARGO_TARGET_DIR/debug/emban" serve "$@"
