#!/usr/bin/env bash
# Rehearses a newcomer's first run: a fresh clone of this repository's HEAD, then the README's two
# commands (scripts/run.sh until the demo server answers, then scripts/test.sh), with a throwaway
# HOME, so CARGO_HOME (registry cache, installed tools), CARGO_TARGET_DIR, the npm and pip
# caches and ~/.cache/emban-tools all start empty. What stays: rustup's toolchain (RUSTUP_HOME)
# and Debian packages (removing those would break other work on this machine; they take about a
# minute to install). Stops at the first error. Not part of CI: it takes 45-60 minutes.
#
#   scripts/fresh-check.sh            # the whole rehearsal; the record goes to BENCHMARKS.md
#   scripts/fresh-check.sh --run-only # only scripts/run.sh (the ≤ 25 min goal)
#   KEEP=1 scripts/fresh-check.sh     # keep the throwaway directory afterwards
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
RUN_ONLY=false
[ "${1:-}" = "--run-only" ] && RUN_ONLY=true

WORK="$(mktemp -d /tmp/emban-fresh.XXXXXX)"
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
REAL_CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export HOME="$WORK/home"
unset CARGO_HOME CARGO_TARGET_DIR EMBAN_TOOLS_DIR DUCKDB_LIB_DIR LD_LIBRARY_PATH
mkdir -p "$HOME" "$WORK/rustup-proxies"
# Only rustup's proxies (cargo, rustc, ...) from the real cargo bin dir: no installed tools.
for tool in cargo rustc rustup rustdoc rustfmt cargo-fmt cargo-clippy clippy-driver; do
  [ -e "$REAL_CARGO_BIN/$tool" ] && ln -s "$REAL_CARGO_BIN/$tool" "$WORK/rustup-proxies/$tool"
done
export PATH="$WORK/rustup-proxies:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill -- -"$server_pid" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then
    echo "kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

say() { printf '\033[1m[fresh-check %s] %s\033[0m\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
RECORD=()
record() { RECORD+=("$(printf '%6ss  %s' "$1" "$2")"); say "$2: ${1}s"; }

say "cloning $REPO (HEAD $(git -C "$REPO" rev-parse --short HEAD)) into $WORK/emban"
git clone --quiet --no-local "$REPO" "$WORK/emban"
cd "$WORK/emban"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
say "scripts/run.sh (demo server on 127.0.0.1:$port)"
started=$SECONDS
EMBAN_BIND="127.0.0.1:$port" EMBAN_DATA_DIR="$WORK/data" setsid bash scripts/run.sh \
  > "$WORK/run.log" 2>&1 &
server_pid=$!
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    tail -40 "$WORK/run.log" >&2
    say "scripts/run.sh stopped before the server answered"
    exit 1
  fi
  sleep 2
done
curl -sf "http://127.0.0.1:$port/" >/dev/null || { say "the demo page did not load"; exit 1; }
curl -sf "http://127.0.0.1:$port/v1/demo/embed-url" >/dev/null || { say "the demo embed URL did not answer"; exit 1; }
record $((SECONDS - started)) "scripts/run.sh: demo server answering"
kill -- -"$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=""
say "run.sh phases:"
sed -n '/phase times/,$p' "$WORK/run.log" | grep -E '^ *[0-9]+s ' >&2 || true

if [ "$RUN_ONLY" = false ]; then
  say "scripts/test.sh"
  started=$SECONDS
  if ! bash scripts/test.sh > "$WORK/test.log" 2>&1; then
    tail -60 "$WORK/test.log" >&2
    say "scripts/test.sh failed"
    exit 1
  fi
  record $((SECONDS - started)) "scripts/test.sh: passed"
  say "test.sh phases:"
  sed -n '/phase times/,$p' "$WORK/test.log" | grep -E '^ *[0-9]+s ' >&2 || true
fi

say "summary ($(nproc) cores, $(date -u +%Y-%m-%d))"
printf '%s\n' "${RECORD[@]}" >&2
