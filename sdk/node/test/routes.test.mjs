// Route coverage: the server's route table, read from its source (every `.route("/path",
// get(..).post(..))` under host-server/src), must equal the SDK's ROUTES plus its listed
// EXCLUDED_ROUTES. A new server route without an SDK method fails here, and so does an SDK
// method whose route the server dropped.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { EXCLUDED_ROUTES, PLANNED_ROUTES, ROUTES } from '@emban/sdk';

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete', 'head', 'options']);

/** Files whose routes take their paths from a constant, with why the SDK skips them. */
const DYNAMIC_ROUTE_FILES = {
  'www.rs': "the live demo's pages (PAGES), static files for browsers",
};

function rustFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return rustFiles(path);
    return entry.name.endsWith('.rs') ? [path] : [];
  });
}

/** Blanks comments and string/char contents (keeping string delimiters and length) so brackets inside them are ignored. */
function mask(source) {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      while (i < source.length && source[i] !== '\n') (out += ' '), i++;
    } else if (c === '/' && next === '*') {
      while (i < source.length && !(source[i] === '*' && source[i + 1] === '/')) (out += source[i] === '\n' ? '\n' : ' '), i++;
      out += '  ';
      i += 2;
    } else if (c === '"') {
      out += '"';
      i++;
      while (i < source.length && source[i] !== '"') {
        if (source[i] === '\\') (out += ' '), i++;
        out += source[i] === '\n' ? '\n' : ' ';
        i++;
      }
      out += '"';
      i++;
    } else if (c === "'" && (source[i + 2] === "'" || (next === '\\' && source[i + 3] === "'"))) {
      const len = next === '\\' ? 4 : 3;
      out += ' '.repeat(len);
      i += len;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** The argument text of the call whose `(` is at `open`, split at top-level commas: `[start, end]` pairs. */
function callArgs(masked, open) {
  const args = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open; i < masked.length; i++) {
    const c = masked[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) {
        args.push([start, i]);
        // A trailing comma leaves an empty last argument.
        const filled = args.filter(([s, e]) => masked.slice(s, e).trim() !== '');
        return { args: filled, end: i };
      }
    } else if (c === ',' && depth === 1) {
      args.push([start, i]);
      start = i + 1;
    }
  }
  throw new Error('unbalanced call');
}

/** The HTTP methods of a handler expression: the calls at its top level (`get(..).post(..)`, `axum::routing::get(..)`). */
function methodsOf(masked, [start, end]) {
  const methods = [];
  let depth = 0;
  for (let i = start; i < end; i++) {
    const c = masked[i];
    if (c === '(' || c === '[' || c === '{') {
      if (depth === 0) {
        const name = /([A-Za-z_]\w*)\s*$/.exec(masked.slice(start, i))?.[1];
        if (name && METHODS.has(name)) methods.push(name.toUpperCase());
      }
      depth++;
    } else if (c === ')' || c === ']' || c === '}') depth--;
  }
  return methods;
}

/** `{ routes: ["GET /v1/x/{}"], dynamic: [file] }` from the server's source. */
export function serverRoutes(srcDir) {
  const routes = new Set();
  const dynamic = new Set();
  for (const file of rustFiles(srcDir)) {
    const source = readFileSync(file, 'utf8');
    const masked = mask(source);
    if (/\.(nest|nest_service|route_service)\s*\(/.test(masked)) {
      throw new Error(`${file} uses nest/route_service: teach this parser the prefix`);
    }
    for (const match of masked.matchAll(/\.route\s*\(/g)) {
      const open = match.index + match[0].length - 1;
      const { args } = callArgs(masked, open);
      if (args.length !== 2) throw new Error(`${file}: .route( with ${args.length} arguments`);
      const pathText = source.slice(args[0][0], args[0][1]).trim();
      const literal = /^"([^"]*)"$/.exec(pathText);
      if (!literal) {
        dynamic.add(file.split('/').pop());
        continue;
      }
      const methods = methodsOf(masked, args[1]);
      if (methods.length === 0) throw new Error(`${file}: no method router for ${literal[1]}`);
      for (const m of methods) routes.add(`${m} ${normalize(literal[1])}`);
    }
  }
  return { routes, dynamic };
}

/** `/v1/dashboards/{id}` → `/v1/dashboards/{}`; `/embed-assets/{*file}` and `/helper/*` → `…/*`. */
function normalize(path) {
  return path.replace(/\{\*\w*\}/g, '*').replace(/\{\w+\}/g, '{}');
}

const srcDir = process.env.EMBAN_SERVER_SRC;

test('the route parser reads multi-line chains, closures and comments', () => {
  const sample = `
    Router::new()
        // .route("/commented", get(nothing))
        .route(
            "/v1/things/{id}",
            get(get_thing)
                .patch(update_thing) /* .post(not_this) */
                .delete(delete_thing),
        )
        .route("/v1/closure", axum::routing::get(|s: State<X>| async move { s.headers.get("x").post(1) }))
  `;
  const masked = mask(sample);
  const found = [];
  for (const match of masked.matchAll(/\.route\s*\(/g)) {
    const { args } = callArgs(masked, match.index + match[0].length - 1);
    const path = sample.slice(args[0][0], args[0][1]).trim();
    found.push([path, methodsOf(masked, args[1])]);
  }
  assert.deepEqual(found, [
    ['"/v1/things/{id}"', ['GET', 'PATCH', 'DELETE']],
    ['"/v1/closure"', ['GET']],
  ]);
});

test('every server route has an SDK method or a listed exclusion, and every SDK route exists', () => {
  assert.ok(srcDir, 'EMBAN_SERVER_SRC must name host-server/src (scripts/test-sdk.sh sets it)');
  const { routes, dynamic } = serverRoutes(srcDir);
  assert.ok(routes.size > 30, `parsed only ${routes.size} routes`);
  for (const file of dynamic) {
    assert.ok(DYNAMIC_ROUTE_FILES[file], `${file} registers routes with non-literal paths: list it in DYNAMIC_ROUTE_FILES with a reason, or give the SDK a method`);
  }
  const sdk = new Map(Object.entries(ROUTES).map(([name, [method, path]]) => [`${method} ${normalize(path)}`, name]));
  const excluded = new Map(EXCLUDED_ROUTES.map((r) => [`${r.method} ${normalize(r.path)}`, r.reason]));
  for (const reason of excluded.values()) assert.ok(reason.length > 10, 'every exclusion says why');

  const uncovered = [...routes].filter((r) => !sdk.has(r) && !excluded.has(r));
  assert.deepEqual(uncovered, [], 'server routes without an SDK method (add one to ROUTES and the client, or to EXCLUDED_ROUTES with a reason)');
  // Routes the reference documents and the server does not serve yet may be missing; any other
  // SDK route or exclusion the server lacks is stale.
  const planned = new Set([
    ...[...sdk].filter(([, name]) => PLANNED_ROUTES.has(name)).map(([route]) => route),
    ...EXCLUDED_ROUTES.filter((r) => r.planned).map((r) => `${r.method} ${normalize(r.path)}`),
  ]);
  const stale = [...sdk.keys(), ...excluded.keys()].filter((r) => !routes.has(r) && !planned.has(r));
  assert.deepEqual(stale, [], 'SDK routes or exclusions the server no longer has');
  for (const name of PLANNED_ROUTES) assert.ok(name in ROUTES, `PLANNED_ROUTES names ${name}, which ROUTES lacks`);
  const both = [...sdk.keys()].filter((r) => excluded.has(r));
  assert.deepEqual(both, [], 'a route is either covered or excluded');
});
