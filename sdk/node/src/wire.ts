// The one place where the SDK's camelCase meets the wire's snake_case. Request bodies and query
// parameters go through `toWire`, response bodies through `fromWire`.
//
// Some values are the caller's own data, keyed by names the caller chose (event props, filter
// values, free-form viz options, audit details): those subtrees pass through untouched in both
// directions, so a prop named `latencyMs` stays `latencyMs`.

/** Wire keys whose values are user data: never renamed inside. */
const OPAQUE = new Set([
  'string_props',
  'numeric_props',
  'locked_filters',
  'filters',
  'viz',
  'details',
  'rows',
  'dimensions',
]);

/** `allowDrillDown` → `allow_drill_down`; snake_case stays as it is. */
export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`));
}

/** `embed_url` → `embedUrl`. */
export function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function convert(value: unknown, rename: (key: string) => string, opaqueKey: (key: string) => boolean): unknown {
  if (Array.isArray(value)) return value.map((v) => convert(v, rename, opaqueKey));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const renamed = rename(key);
    out[renamed] = opaqueKey(key) ? v : convert(v, rename, opaqueKey);
  }
  return out;
}

/** A request body for the wire: keys snake_cased, user-data subtrees kept as given. */
export function toWire(value: unknown): unknown {
  return convert(value, snakeCase, (key) => OPAQUE.has(snakeCase(key)));
}

/** A response body for callers: keys camelCased, user-data subtrees kept as sent. */
export function fromWire<T>(value: unknown): T {
  return convert(value, camelCase, (key) => OPAQUE.has(key)) as T;
}

/** Query parameters for the wire: keys snake_cased; `filters: {model: 'gpt-4'}` becomes `f_model=gpt-4`. */
export function toQueryString(params: Record<string, unknown> | undefined): string {
  if (!params) return '';
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (key === 'filters' && isPlainObject(value)) {
      for (const [dimension, v] of Object.entries(value)) {
        if (v !== undefined && v !== null) search.append(`f_${dimension}`, String(v));
      }
      continue;
    }
    search.append(snakeCase(key), String(value));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}
