#!/usr/bin/env bash
# Builds the server and the benchmark (dev profile: dependencies, DuckDB included, are optimized
# there; see the root Cargo.toml) and runs the ingest-and-query benchmark.
#
#   scripts/bench.sh                    # the full run: 10M events, 8 clients, 1,000-event batches
#   scripts/bench.sh --events 200000    # a quick smoke run
#   scripts/bench.sh --help             # every flag
#
# The binaries are found wherever cargo puts them (CARGO_TARGET_DIR is honoured).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p emban-host-server --bins
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
exec "$target_dir/debug/emban-bench" "$@"
