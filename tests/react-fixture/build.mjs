// Bundles app.jsx into dist/app.js and strict.jsx into dist/strict.js with the helper package from embed-helper/pkg (built by
// scripts/build-helper.sh) and React from this fixture's node_modules, then copies the helper's
// wasm next to the bundle: the helper's entry loads it with
// `new URL('./embed_helper_bg.wasm', import.meta.url)`, and `import.meta.url` is the bundle's.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..', '..', 'embed-helper', 'pkg');
if (!existsSync(join(pkg, 'react.js'))) {
  console.error(`${pkg}/react.js is missing: run scripts/build-helper.sh first`);
  process.exit(1);
}
mkdirSync(join(here, 'dist'), { recursive: true });
// app.jsx against React's production build; strict.jsx (StrictMode) against its development
// build, where StrictMode mounts every effect twice.
for (const [entry, mode] of [['app', 'production'], ['strict', 'development']]) {
  await build({
    entryPoints: [join(here, `${entry}.jsx`)],
    outfile: join(here, 'dist', `${entry}.js`),
    bundle: true,
    format: 'esm',
    target: 'es2022', // the helper's entry uses top-level await
    jsx: 'automatic',
    alias: { '@emban/embed-helper': pkg },
    // react.js lives outside this directory: its `import 'react'` resolves here.
    nodePaths: [join(here, 'node_modules')],
    define: { 'process.env.NODE_ENV': JSON.stringify(mode) },
    logLevel: 'warning',
  });
}
copyFileSync(join(pkg, 'embed_helper_bg.wasm'), join(here, 'dist', 'embed_helper_bg.wasm'));
