// The package entry: instantiates the helper's wasm once (top-level await, so importers get a
// ready-to-use API), then re-exports it. Works in browsers as a plain ES module and in bundlers
// that support top-level await (Vite, webpack 5, Rollup, esbuild with an ES2022 target).
import init, { EmbanEmbed } from './embed_helper.js';

await init({ module_or_path: new URL('./embed_helper_bg.wasm', import.meta.url) });

export { EmbanEmbed };
