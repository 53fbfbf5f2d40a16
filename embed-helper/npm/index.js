// The package entry. Imported in a browser it loads the wasm (top-level await), so
// `EmbanEmbed.mount` is synchronous right after `import`; imported anywhere else (server
// rendering, Node, a worker) it touches no browser API and loads nothing. The API is api.js
// (also `@emban/embed-helper/lazy`, which never loads anything by itself).
import { load } from './api.js';

export { EmbanEmbed, EmbanError, load } from './api.js';

if (typeof window === 'object' && typeof fetch === 'function') await load();
