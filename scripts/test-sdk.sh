#!/usr/bin/env bash
# Tests the server SDKs against a real server. Builds the `emban` binary (quick when warm; or
# takes EMBAN_BIN), packs @emban/sdk with `npm pack` and installs the tarball (and express) into
# a throwaway project, starts one server on a free loopback port with a temporary data dir for
# the Node tests, stops it, then runs the Rust SDK's tests, which start their own servers from
# EMBAN_BIN. Run by scripts/test.sh; runs alone too.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
command -v npm >/dev/null || apt_install nodejs npm

WORK="$(mktemp -d "${TMPDIR:-/tmp}/emban-sdk-test.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  phase_summary
}
trap cleanup EXIT

build_server() {
  if [ -z "${EMBAN_BIN:-}" ]; then
    setup_duckdb
    # The workspace's test build (a no-op after scripts/test.sh's): `cargo build -p` would resolve
    # features for one package and rebuild much of the dependency tree.
    cargo test --workspace --no-run --quiet
    EMBAN_BIN="$CARGO_TARGET_DIR/debug/emban"
  fi
  [ -x "$EMBAN_BIN" ] || { log "no server binary at $EMBAN_BIN"; return 1; }
  export EMBAN_BIN
}

# The package as a user gets it: built, packed, installed from the tarball.
pack_node_sdk() {
  local dir="$ROOT_DIR/sdk/node"
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  (cd "$dir" && npm run --silent build && npm pack --silent --pack-destination "$WORK" >/dev/null)
  # The test project's own dependencies, at the versions sdk/node pins: express for the
  # middleware test, and its and Node's types for the TypeScript consumer test.
  local deps
  deps="$(node -p "const d = require('$dir/package.json').devDependencies; ['express', '@types/express', '@types/node'].map((n) => n + '@' + d[n]).join(' ')")"
  mkdir -p "$WORK/project"
  cp -r "$dir/test" "$WORK/project/test"
  printf '{ "name": "emban-sdk-consumer", "private": true, "type": "module" }\n' >"$WORK/project/package.json"
  (cd "$WORK/project" && npm install --no-audit --no-fund --loglevel=error --prefer-offline \
    "$WORK"/emban-sdk-*.tgz $deps)
}

# One server for the Node tests; each test file registers its own org in it.
start_server() {
  # Created here, not by the background job's redirect, so the first read cannot race it.
  : >"$WORK/server.out"
  "$EMBAN_BIN" serve --bind 127.0.0.1:0 --data-dir "$WORK/data" --demo false \
    >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    EMBAN_URL="$(sed -n 's/^emban listening on \(http:[^ ]*\).*/\1/p' "$WORK/server.out")"
    [ -n "$EMBAN_URL" ] && export EMBAN_URL && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  log "the server did not start:"
  cat "$WORK/server.err" >&2
  return 1
}

node_tests() {
  (cd "$WORK/project" && EMBAN_SERVER_SRC="$ROOT_DIR/host-server/src" \
    EMBAN_TSC="$ROOT_DIR/sdk/node/node_modules/typescript/bin/tsc" node --test --test-reporter=spec test/*.test.mjs) || {
    log "server log:"
    tail -n 50 "$WORK/server.err" >&2
    return 1
  }
}

stop_server() {
  kill "$SERVER_PID"
  wait "$SERVER_PID" || true
  SERVER_PID=""
}

phase "sdk: build the server binary" build_server
phase "sdk: build, npm pack and install @emban/sdk" pack_node_sdk
phase "sdk: start a server" start_server
phase "sdk: Node tests (node --test)" node_tests
phase "sdk: stop the server" stop_server
# scripts/test.sh's `cargo test --workspace` has already run them (EMBAN_SDK_RUST_DONE=1).
if [ -z "${EMBAN_SDK_RUST_DONE:-}" ]; then
  phase "sdk: Rust tests and doctests (cargo test -p emban-sdk)" cargo test -p emban-sdk
fi
