// The package entry: instantiates the helper's wasm once (top-level await, so importers get a
// ready-to-use API), then re-exports it. Works in browsers as a plain ES module and in bundlers
// that support top-level await (Vite, webpack 5, Rollup, esbuild with an ES2022 target).
//
// The wasm's fetch starts before the JS glue is even requested (a static import would be
// fetched first, and the glue would only then ask for the wasm): the two download in parallel,
// which takes a round trip off the time to the first mount.
const wasm = fetch(new URL('./embed_helper_bg.wasm', import.meta.url));
const { default: init, EmbanEmbed } = await import('./embed_helper.js');
await init({ module_or_path: wasm });

export { EmbanEmbed };
