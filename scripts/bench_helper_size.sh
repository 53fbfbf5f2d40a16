#!/usr/bin/env bash
# Measures the host-page helper's transfer size: the files of embed-helper/pkg/ a page loads to
# use `@emban/embed-helper` (the wasm, the wasm-bindgen JS glue, the ESM entry and the API module it re-exports), compressed
# with gzip -9 and brotli -q 11 (what a CDN or bundler would serve). The React wrapper is listed
# but not counted: it is an optional second entry point.
# Goals: at most 30 KB gzipped in total; the React entry adds at most 2 KB gzipped. Run after `bash scripts/build-helper.sh`
# (or pass --build to build first).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--build" ]; then bash scripts/build-helper.sh; fi
PKG=embed-helper/pkg
[ -f "$PKG/embed_helper_bg.wasm" ] || { echo "$PKG is empty: run bash scripts/build-helper.sh" >&2; exit 1; }
have_brotli=1
command -v brotli >/dev/null || have_brotli=0
br() { if [ "$have_brotli" = 1 ]; then brotli -q 11 -c "$1" | wc -c; else echo 0; fi; }
total_raw=0; total_gz=0; total_br=0
printf '%-28s %10s %10s %10s\n' file raw gzip brotli
for f in embed_helper_bg.wasm embed_helper.js index.js api.js react.js; do
  path="$PKG/$f"
  raw=$(stat -c %s "$path")
  gz=$(gzip -9 -c "$path" | wc -c)
  b=$(br "$path")
  if [ "$f" = react.js ]; then
    react_gz=$gz
    printf '%-28s %10d %10d %10d  (optional entry, not counted)\n' "$f" "$raw" "$gz" "$b"
    continue
  fi
  total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz)); total_br=$((total_br + b))
  printf '%-28s %10d %10d %10d\n' "$f" "$raw" "$gz" "$b"
done
printf '%-28s %10d %10d %10d\n' total "$total_raw" "$total_gz" "$total_br"
[ "$have_brotli" = 1 ] || echo "(brotli not installed: brotli column is 0)"
limit=30000
if [ "$total_gz" -le "$limit" ]; then
  echo "PASS: ${total_gz} B gzipped <= 30 KB (${limit} B)"
else
  echo "MISS: ${total_gz} B gzipped > 30 KB (${limit} B)"; exit 1
fi
if [ "$react_gz" -le 2000 ]; then
  echo "PASS: the React entry adds ${react_gz} B gzipped <= 2 KB (2000 B)"
else
  echo "MISS: the React entry adds ${react_gz} B gzipped > 2 KB (2000 B)"; exit 1
fi
