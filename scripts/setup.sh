#!/usr/bin/env bash
# Installs what building and testing Emban needs on a fresh Debian 12 machine. Idempotent:
# every step checks before it installs. Sourced by run.sh and test.sh.
set -euo pipefail

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/emban-target}"
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export PATH="$CARGO_HOME/bin:$HOME/.cargo/bin:$PATH"
# Tools fetched from registries (binaryen's wasm-opt, libduckdb) live here; fresh-check.sh points
# it at a throwaway directory.
EMBAN_TOOLS_DIR="${EMBAN_TOOLS_DIR:-$HOME/.cache/emban-tools}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# `phase NAME CMD...` runs CMD, logs how long it took, and keeps the figure for
# `phase_summary`, so a slow phase shows in CI output and in fresh-check.sh's record.
PHASES=()
phase() {
  local name="$1"
  shift
  local started=$SECONDS
  log "$name"
  "$@"
  local took=$((SECONDS - started))
  PHASES+=("$(printf '%6ss  %s' "$took" "$name")")
  log "$name: done in ${took}s"
}
phase_summary() {
  [ ${#PHASES[@]} -gt 0 ] || return 0
  log "phase times"
  printf '%s\n' "${PHASES[@]}" >&2
}

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

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# DuckDB, prebuilt: the C library from npm's `@duckdb/node-bindings-linux-x64` (the DuckDB
# project's own build of libduckdb.so, the same C API the `duckdb` crate binds). Compiling the
# crate's bundled C++ instead takes 20-40 minutes on two cores, the largest part of a first
# build. The npm version must be the DuckDB release the crate in Cargo.toml binds
# (crate 1.MMmpp.x binds DuckDB M.m.p, e.g. 1.10506.1 → 1.5.6); the check below fails loudly
# when one is bumped without the other. `--features bundled-duckdb` on emban-host-server builds
# a binary with DuckDB compiled in instead (no shared library to ship).
DUCKDB_NPM_VERSION="1.5.6-r.1"
DUCKDB_CRATE_VERSION="$(sed -n 's/^duckdb = { version = "=\([0-9.]*\)".*/\1/p' "$ROOT_DIR/Cargo.toml")"
DUCKDB_LIB_DIR="$EMBAN_TOOLS_DIR/duckdb-$DUCKDB_NPM_VERSION"
export DUCKDB_LIB_DIR
export LD_LIBRARY_PATH="$DUCKDB_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
setup_duckdb() {
  local minor="${DUCKDB_CRATE_VERSION#1.}"
  minor="${minor%%.*}"
  local want
  want="$((10#${minor:0:1})).$((10#${minor:1:2})).$((10#${minor:3:2}))"
  if [ "${DUCKDB_NPM_VERSION%%-*}" != "$want" ]; then
    log "scripts/setup.sh: the duckdb crate $DUCKDB_CRATE_VERSION binds DuckDB $want, but DUCKDB_NPM_VERSION is $DUCKDB_NPM_VERSION"
    return 1
  fi
  if [ ! -f "$DUCKDB_LIB_DIR/libduckdb.so" ]; then
    command -v npm >/dev/null || apt_install nodejs npm
    log "npm pack @duckdb/node-bindings-linux-x64@$DUCKDB_NPM_VERSION (prebuilt libduckdb.so)"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "@duckdb/node-bindings-linux-x64@$DUCKDB_NPM_VERSION" >/dev/null \
      && tar xzf ./*.tgz)
    mkdir -p "$DUCKDB_LIB_DIR"
    cp "$tmp/package/libduckdb.so" "$tmp/package/LICENSE" "$DUCKDB_LIB_DIR/"
    rm -rf "$tmp"
  fi
}

setup_server() {
  # cc for the -sys crates (SQLite's C is compiled by sqlx's libsqlite3-sys); Debian's aiosmtpd
  # is the real SMTP server the invite-mail test talks to (run with /usr/bin/python3); poppler's
  # pdftotext reads back the PDF reports the server renders (tests/api/render.rs).
  apt_install build-essential pkg-config python3-aiosmtpd poppler-utils
  ensure_rust
  setup_duckdb
  mkdir -p "$CARGO_TARGET_DIR"
  # Every crate of the lock file, for every target and feature, so no later step (the helper's
  # optional no_std allocator, say) depends on what happens to be in the cache. Quick when warm.
  cargo fetch --manifest-path "$ROOT_DIR/Cargo.toml" --quiet
}

# The embed runtime's toolchain: the wasm target, headless Chromium and its driver for the browser
# tests, the wasm-bindgen CLI at the exact version Cargo.toml pins (wasm-bindgen-test-runner comes
# with it), Trunk, and binaryen's wasm-opt at the version Trunk.toml names. Trunk downloads
# nothing (`trunk build --offline`: that flag is about Trunk's own tool downloads; cargo's
# crates were fetched by setup_server).
#
# wasm-opt comes from npm's `binaryen` package rather than Debian's: Debian 12 ships binaryen 108,
# which cannot parse the `table.fill` that wasm-bindgen emits for modules built with Rust's default
# wasm features (bulk memory), and stops the release build.
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' "$ROOT_DIR/Cargo.toml")"
BINARYEN_VERSION="$(sed -n 's/^wasm_opt = "version_\([0-9]*\)".*/\1/p' "$ROOT_DIR/Trunk.toml")"
BINARYEN_DIR="$EMBAN_TOOLS_DIR/binaryen-$BINARYEN_VERSION"
export PATH="$BINARYEN_DIR/node_modules/.bin:$PATH"
# esbuild minifies the helper package's JS (scripts/build-helper.sh): the wasm-bindgen glue and
# the entries, which count towards the helper's 30 KB budget. The version the fixtures pin.
ESBUILD_VERSION="0.25.12"
ESBUILD_DIR="$EMBAN_TOOLS_DIR/esbuild-$ESBUILD_VERSION"
export PATH="$ESBUILD_DIR/node_modules/.bin:$PATH"
# Both tools are installed unoptimized (`--debug`, no debug info): they only orchestrate and
# rewrite a module of a few hundred KB, which takes the same ~20 s either way (measured: trunk
# build of the runtime 21.6 s with release tools, 21.9 s with these), while compiling them takes
# 4 minutes instead of 16 on two cores (BENCHMARKS.md, "First run").
setup_wasm_tools() {
  ensure_rust
  rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
  command -v npm >/dev/null || apt_install nodejs npm
  if [ "$(wasm-opt --version 2>/dev/null)" != "wasm-opt version $BINARYEN_VERSION (version_$BINARYEN_VERSION)" ]; then
    log "npm install binaryen@$BINARYEN_VERSION (wasm-opt)"
    mkdir -p "$BINARYEN_DIR"
    npm install --prefix "$BINARYEN_DIR" --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION"
  fi
  if [ "$(esbuild --version 2>/dev/null)" != "$ESBUILD_VERSION" ]; then
    log "npm install esbuild@$ESBUILD_VERSION (minifies the helper package)"
    mkdir -p "$ESBUILD_DIR"
    npm install --prefix "$ESBUILD_DIR" --no-audit --no-fund --silent "esbuild@$ESBUILD_VERSION"
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
    log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (first time only: ~1 minute)"
    CARGO_PROFILE_DEV_DEBUG=0 cargo install --debug wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
  if ! command -v trunk >/dev/null; then
    log "cargo install trunk (first time only: ~3 minutes)"
    # No default features: they are TLS for downloads and an update check, and builds here
    # download nothing.
    CARGO_PROFILE_DEV_DEBUG=0 cargo install --debug --no-default-features trunk --version '~0.21' --locked
  fi
}

# Headless Chromium and its driver, for the browser and end-to-end tests.
setup_chromium() {
  apt_install chromium chromium-driver
}

setup_browser() {
  setup_wasm_tools
  setup_chromium
}

# Builds the embed runtime into dist/ (wasm-opt -Oz), with the tools setup_browser installed, then
# writes each wasm, JS and CSS file's precompressed copies beside it (`.br` brotli -q 11, `.gz`
# gzip -9), once per build: the server sends them to browsers that accept them
# (host-server/src/routes/files.rs). Trunk empties dist/ on every build, so no copy goes stale.
build_runtime() {
  log "trunk build --release (embed runtime → dist/)"
  (cd "$ROOT_DIR" && trunk build --release --offline)
  apt_install brotli gzip
  local f
  for f in "$ROOT_DIR"/dist/*.wasm "$ROOT_DIR"/dist/*.js "$ROOT_DIR"/dist/*.css; do
    [ -f "$f" ] || continue
    brotli -q 11 -f -k -o "$f.br" "$f"
    gzip -9 -n -k -f "$f"
  done
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

# The package fixture (tests/pack-fixture): Next.js 15, React, Vite, esbuild, TypeScript and
# React's types from npm at the versions its package-lock.json pins (~380 MB). The test
# (tests/tests/pack.rs) installs the helper's `npm pack` tarball into it on every run, type-checks,
# renders on the server, bundles with Vite and esbuild, and builds the Next.js app (offline,
# telemetry off). `npm ci` only when node_modules is missing or older than the lock file.
setup_pack_fixture() {
  local dir="$ROOT_DIR/tests/pack-fixture"
  command -v npm >/dev/null || apt_install nodejs npm
  if [ ! -d "$dir/node_modules/next" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    log "npm ci (tests/pack-fixture: next, react, vite, esbuild, typescript)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# ClickHouse for the ClickHouse backend's tests (host-server/tests/clickhouse), which start their
# own throwaway servers on free loopback ports; the package's own service is not needed.
setup_clickhouse() {
  apt_install clickhouse-server clickhouse-client
  setup_chdb
}

# A current ClickHouse for the tests, embedded in Python by PyPI's chdb-core (Debian's server is
# 18.16): the ad-hoc escape corpus also runs on it (host-server/tests/clickhouse/chdb_corpus.py).
CHDB_VERSION="26.9.0"
CHDB_VENV="$EMBAN_TOOLS_DIR/chdb-venv"
export EMBAN_CHDB_PYTHON="$CHDB_VENV/bin/python"
setup_chdb() {
  if "$EMBAN_CHDB_PYTHON" -c "import importlib.metadata as m, sys; sys.exit(m.version('chdb-core') != '$CHDB_VERSION')" 2>/dev/null; then
    return 0
  fi
  apt_install python3-venv
  log "pip install chdb-core==$CHDB_VERSION (current ClickHouse, embedded)"
  rm -rf "$CHDB_VENV"
  /usr/bin/python3 -m venv "$CHDB_VENV"
  "$CHDB_VENV/bin/pip" install --quiet --disable-pip-version-check "chdb-core==$CHDB_VERSION"
}

# PyPI's standardwebhooks, the Standard Webhooks project's own Python library: the webhook
# receiver of the alerts tests verifies the server's signatures with it, an implementation
# independent of the server's (host-server/tests/alerts/standardwebhooks_receiver.py). Pure
# Python without dependencies, in its own venv like chdb's; quick when already installed.
STANDARDWEBHOOKS_VERSION="1.3.0"
STANDARDWEBHOOKS_VENV="$EMBAN_TOOLS_DIR/standardwebhooks-venv"
export EMBAN_STANDARDWEBHOOKS_PYTHON="$STANDARDWEBHOOKS_VENV/bin/python"
setup_standardwebhooks() {
  if "$EMBAN_STANDARDWEBHOOKS_PYTHON" -c "import importlib.metadata as m, sys; sys.exit(m.version('standardwebhooks') != '$STANDARDWEBHOOKS_VERSION')" 2>/dev/null; then
    return 0
  fi
  apt_install python3-venv
  log "pip install standardwebhooks==$STANDARDWEBHOOKS_VERSION (verifies webhook signatures in the tests)"
  rm -rf "$STANDARDWEBHOOKS_VENV"
  /usr/bin/python3 -m venv "$STANDARDWEBHOOKS_VENV"
  "$STANDARDWEBHOOKS_VENV/bin/pip" install --quiet --disable-pip-version-check "standardwebhooks==$STANDARDWEBHOOKS_VERSION"
}
