#!/usr/bin/env bash
# Builds the host-page helper (embed-helper/) into the npm package embed-helper/pkg/:
# cargo (size-oriented `wasm-release` profile, feature `bare`: no_std) → wasm-bindgen --target web
# → wasm-opt -Oz, then the package.json, README, the ESM entry and the React wrapper from
# embed-helper/npm/. scripts/bench_helper_size.sh measures the result (goal: 30 KB gzipped).
# Needs setup_browser's tools (the pinned wasm-bindgen CLI, binaryen's wasm-opt and esbuild from
# npm).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/emban-target}"
# shellcheck source=setup.sh
source scripts/setup.sh
PKG=embed-helper/pkg
log "building embed-helper (wasm32, wasm-release) → $PKG"
cargo build --target wasm32-unknown-unknown --profile wasm-release -p embed-helper --features bare
rm -rf "$PKG"
# `--encode-into always`: every browser with wasm reference types has TextEncoder.encodeInto, so
# the glue's fallback is dead weight. The producers/target-features sections are metadata.
wasm-bindgen --target web --out-dir "$PKG" --out-name embed_helper \
  --encode-into always --remove-producers-section \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/embed_helper.wasm"
wasm-opt -Oz --converge --strip-target-features --strip-producers \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types \
  "$PKG/embed_helper_bg.wasm" -o "$PKG/embed_helper_bg.wasm"
cp embed-helper/npm/package.json embed-helper/npm/README.md embed-helper/npm/index.js embed-helper/npm/api.js \
  embed-helper/npm/index.d.ts embed-helper/npm/react.js embed-helper/npm/react.d.ts "$PKG/"
# The shipped JS is minified (esbuild's transform: no bundling, imports, `new URL(...,
# import.meta.url)` and the 'use client' directive stay as they are); the commented sources are
# in embed-helper/npm/, the types in the .d.ts files. Saves ~3 KB gzipped, mostly the glue's
# JSDoc copies of the Rust doc comments.
for f in embed_helper.js index.js api.js react.js; do
  esbuild --minify --format=esm --log-level=warning "$PKG/$f" --outfile="$PKG/$f" --allow-overwrite
done
# wasm-bindgen writes a .gitignore of `*` into the package: npm pack would honour it.
rm -f "$PKG/.gitignore"
log "embed-helper package: $(du -sh "$PKG" | cut -f1) ($PKG)"
