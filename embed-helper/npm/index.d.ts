// Types of the package entry: the wasm-bindgen generated API (initialised on import).
export { EmbanEmbed } from './embed_helper.js';
export type {
  EmbanTheme,
  EmbanFilters,
  EmbanMountOptions,
  EmbanEventName,
} from './embed_helper.js';
