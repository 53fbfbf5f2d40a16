#!/usr/bin/env bash
# Measures the embed runtime's transfer size: the wasm, JS and CSS Trunk writes to dist/,
# compressed with gzip -9 and brotli -q 11 (what a CDN or reverse proxy would serve).
# Goal (issue 4): at most 150 KB gzipped in total. Run after `trunk build --release --offline`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
apt_install brotli gzip
shopt -s nullglob
files=(dist/*.wasm dist/*.js dist/*.css)
[ ${#files[@]} -gt 0 ] || { echo "dist/ is empty: run trunk build --release --offline" >&2; exit 1; }
total_raw=0; total_gz=0; total_br=0
printf '%-48s %10s %10s %10s\n' file raw gzip brotli
for f in "${files[@]}"; do
  raw=$(stat -c %s "$f")
  gz=$(gzip -9 -c "$f" | wc -c)
  br=$(brotli -q 11 -c "$f" | wc -c)
  total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz)); total_br=$((total_br + br))
  printf '%-48s %10d %10d %10d\n' "$(basename "$f")" "$raw" "$gz" "$br"
done
printf '%-48s %10d %10d %10d\n' total "$total_raw" "$total_gz" "$total_br"
limit=150000
if [ "$total_gz" -le "$limit" ]; then
  echo "PASS: ${total_gz} B gzipped <= 150 KB (${limit} B)"
else
  echo "MISS: ${total_gz} B gzipped > 150 KB (${limit} B)"; exit 1
fi
