#!/usr/bin/env bash
# Builds the server (`emban`) and the benchmark crate (bench/), then runs the ingest-and-query
# benchmark (see BENCHMARKS.md). Run on demand, not in CI. Extra arguments go to `emban-bench`:
#
#   scripts/bench.sh                    # the full run: 10M events, 8 clients, 1,000-event batches
#   scripts/bench.sh --events 200000    # a quick smoke run (~15 s)
#   scripts/bench.sh --help             # every flag
#   scripts/bench.sh scheduled          # report rendering (PNG, PDF) and alert evaluation cost
#                                       # over 10M events (emban-bench-scheduled; issue 16)
#   scripts/bench.sh scheduled --events 200000   # its smoke run
#
# The dev profile is deliberate: dependencies (DuckDB included) are optimized in it (root
# Cargo.toml), and a --release build would compile DuckDB's C++ a second time.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
setup_server
log "building (the first build compiles DuckDB: ~20 minutes on 2 cores)"
# emban-bench starts the `emban` next to it as a child process: build both.
cargo build -p emban-host-server -p emban-bench --bins
if [[ "${1:-}" == "scheduled" ]]; then
  shift
  exec "$CARGO_TARGET_DIR/debug/emban-bench-scheduled" "$@"
fi
exec "$CARGO_TARGET_DIR/debug/emban-bench" "$@"
