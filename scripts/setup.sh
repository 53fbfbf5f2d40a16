#!/usr/bin/env bash
# Installs what building and testing Emban needs on a fresh Debian 12 machine. Idempotent:
# every step checks before it installs. Sourced by run.sh and test.sh.
set -euo pipefail

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/emban-target}"
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_rust() {
  if ! command -v cargo >/dev/null; then
    log "installing Rust with rustup"
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  fi
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
}

setup_server() {
  # DuckDB's bundled C++ needs a C++ compiler.
  apt_install build-essential pkg-config
  ensure_rust
  mkdir -p "$CARGO_TARGET_DIR"
}

# The embed runtime's toolchain: the wasm target, headless Chromium and its driver for the browser
# tests, the wasm-bindgen CLI at the exact version Cargo.toml pins (wasm-bindgen-test-runner comes
# with it), Trunk, and binaryen's wasm-opt at the version Trunk.toml names. Nothing is downloaded
# at build time (`trunk build --offline`).
#
# wasm-opt comes from npm's `binaryen` package rather than Debian's: Debian 12 ships binaryen 108,
# which cannot parse the `table.fill` that wasm-bindgen emits for modules built with Rust's default
# wasm features (bulk memory), and stops the release build.
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' "$ROOT_DIR/Cargo.toml")"
BINARYEN_VERSION="$(sed -n 's/^wasm_opt = "version_\([0-9]*\)".*/\1/p' "$ROOT_DIR/Trunk.toml")"
BINARYEN_DIR="$HOME/.cache/emban-tools/binaryen-$BINARYEN_VERSION"
export PATH="$BINARYEN_DIR/node_modules/.bin:$PATH"
setup_browser() {
  ensure_rust
  rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
  apt_install chromium chromium-driver
  command -v npm >/dev/null || apt_install nodejs npm
  if [ "$(wasm-opt --version 2>/dev/null)" != "wasm-opt version $BINARYEN_VERSION (version_$BINARYEN_VERSION)" ]; then
    log "npm install binaryen@$BINARYEN_VERSION (wasm-opt)"
    mkdir -p "$BINARYEN_DIR"
    npm install --prefix "$BINARYEN_DIR" --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION"
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
    log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
  if ! command -v trunk >/dev/null; then
    log "cargo install trunk"
    cargo install trunk --version '~0.21' --locked
  fi
}

# Builds the embed runtime into dist/ (wasm-opt -Oz), with the tools setup_browser installed.
build_runtime() {
  log "trunk build --release (embed runtime → dist/)"
  trunk build --release --offline
}

# The React wrapper's end-to-end fixture (tests/react-fixture): React, react-dom and esbuild from
# npm at the versions its package-lock.json pins. `npm ci` only when node_modules is missing or
# older than the lock file; the test bundles app.jsx itself on every run (tests/tests/react.rs).
setup_react_fixture() {
  local dir="$ROOT_DIR/tests/react-fixture"
  command -v npm >/dev/null || apt_install nodejs npm
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    log "npm ci (tests/react-fixture: react, react-dom, esbuild)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# ClickHouse for the ClickHouse backend's tests (host-server/tests/clickhouse), which start their
# own throwaway servers on free loopback ports; the package's own service is not needed.
setup_clickhouse() {
  apt_install clickhouse-server clickhouse-client
}
