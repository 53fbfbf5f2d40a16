#!/usr/bin/env bash
# Builds and starts the Emban server on the embedded default (DuckDB + SQLite in ./data), with
# the demo org seeded on first start. Extra arguments go to `emban serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
setup_server
setup_browser
build_runtime
bash scripts/build-helper.sh
log "building (the first build compiles DuckDB: ~20 minutes on 2 cores)"
cargo build -p emban-host-server --bin emban
exec "$CARGO_TARGET_DIR/debug/emban" serve "$@"
