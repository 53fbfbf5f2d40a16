// Test fixtures: the real server (started by scripts/test-sdk.sh and named by EMBAN_URL, or
// started here from EMBAN_BIN), a fresh org per test file, and a loopback proxy that injects
// failures in front of the server.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

let serverUrl;

/** The server's base URL, starting one from EMBAN_BIN when EMBAN_URL is not set. */
export async function server() {
  if (serverUrl) return serverUrl;
  if (process.env.EMBAN_URL) {
    serverUrl = process.env.EMBAN_URL.replace(/\/+$/, '');
    return serverUrl;
  }
  const bin = process.env.EMBAN_BIN;
  if (!bin) throw new Error('set EMBAN_URL (a running server) or EMBAN_BIN (the emban binary): scripts/test-sdk.sh does');
  const dataDir = mkdtempSync(join(tmpdir(), 'emban-sdk-node-'));
  const child = spawn(bin, ['serve', '--bind', '127.0.0.1:0', '--data-dir', dataDir, '--demo', 'false'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, EMBAN_LOG: process.env.EMBAN_LOG ?? 'warn' },
  });
  process.on('exit', () => {
    child.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });
  serverUrl = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`emban did not start: ${out}`)), 60_000);
    child.on('exit', (code) => reject(new Error(`emban exited with ${code}: ${out}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /emban listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
  return serverUrl;
}

/** Registers a new user and org; resolves with `{ url, adminKey, ingestKey }`. */
export async function account() {
  const url = await server();
  const email = `sdk-${Date.now()}-${Math.random().toString(16).slice(2)}@example.com`;
  const register = await fetch(`${url}/v1/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password: 'correct horse battery', name: 'SDK test', org_name: 'SDK test org' }),
  });
  const body = await register.json();
  if (register.status !== 201) throw new Error(`register: ${register.status} ${JSON.stringify(body)}`);
  const adminKey = body.api_key.key;
  const created = await fetch(`${url}/v1/api-keys`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${adminKey}` },
    body: JSON.stringify({ label: 'sdk ingest', scope: 'ingest' }),
  });
  const ingest = await created.json();
  if (created.status !== 201) throw new Error(`ingest key: ${created.status} ${JSON.stringify(ingest)}`);
  return { url, adminKey, ingestKey: ingest.key };
}

/** A widget counting `event` per day. */
export function countWidget(id, event, extra = {}) {
  return {
    id,
    kind: 'timeseries',
    title: `${event} per day`,
    query: { eventName: event, metric: 'count', granularity: 'day', ...extra },
    viz: { type: 'line' },
    layout: { x: 0, y: 0, w: 6, h: 4 },
  };
}

/**
 * A proxy on 127.0.0.1 in front of `target`. `plan(request, n)` (n counts requests from 1)
 * decides each request's fate: `'forward'`, `'drop'` (destroy the socket before answering),
 * `'forward-then-drop'` (let the server handle it, then destroy the socket instead of answering),
 * `'hang'` (never answer), or `{ status, headers, body }` to answer itself.
 * Resolves with `{ url, requests, close }`; `requests` records `{ method, path, body }`.
 */
export async function proxy(target, plan) {
  const requests = [];
  const sockets = new Set();
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method, path: req.url, headers: req.headers, body: body.toString() });
      const fate = plan(req, requests.length);
      if (fate === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fate === 'hang') return;
      if (fate === 'forward' || fate === 'forward-then-drop') {
        const headers = { ...req.headers };
        delete headers.host;
        delete headers['content-length'];
        const upstream = await fetch(target + req.url, {
          method: req.method,
          headers,
          body: body.length > 0 ? body : undefined,
        });
        const text = await upstream.text();
        if (fate === 'forward-then-drop') {
          req.socket.destroy();
          return;
        }
        const out = {};
        upstream.headers.forEach((v, k) => {
          if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
        });
        res.writeHead(upstream.status, out);
        res.end(text);
        return;
      }
      res.writeHead(fate.status, { 'Content-Type': 'application/json', ...(fate.headers ?? {}) });
      res.end(typeof fate.body === 'string' ? fate.body : JSON.stringify(fate.body ?? {}));
    });
  });
  srv.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  const close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      srv.close(() => resolve());
    });
  after(close);
  return { url: `http://127.0.0.1:${port}`, requests, close };
}

/** Sums a query's rows. */
export function total(result) {
  return result.data.reduce((sum, row) => sum + (row.value ?? 0), 0);
}
