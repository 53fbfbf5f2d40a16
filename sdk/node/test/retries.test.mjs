// Retries through a real proxy on loopback that drops connections, answers 503 or 429 with
// Retry-After, before letting requests through to the real server.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import { EmbanClient } from '@emban/sdk';

import { account, proxy, total } from './helpers.mjs';

let a;
let admin;
before(async () => {
  a = await account();
  admin = new EmbanClient({ apiKey: a.adminKey, baseUrl: a.url });
});

const count = async (tenant, event) =>
  total(await admin.query({ tenantId: tenant, eventName: event, metric: 'count', period: '24h' }));

test('dropped connections are retried until the request gets through', async () => {
  const p = await proxy(a.url, (_req, n) => (n <= 2 ? 'drop' : 'forward'));
  const client = new EmbanClient({ apiKey: a.ingestKey, baseUrl: p.url, maxRetries: 3, retryBaseMs: 10 });
  const result = await client.ingest([{ tenant_id: 'r1', event_name: 'drop.test' }]);
  assert.equal(result.accepted, 1);
  assert.equal(p.requests.length, 3);
  assert.equal(await count('r1', 'drop.test'), 1);
});

test('503s are retried with backoff', async () => {
  const p = await proxy(a.url, (_req, n) => (n <= 2 ? { status: 503, body: { error: 'busy', code: 'unavailable' } } : 'forward'));
  const client = new EmbanClient({ apiKey: a.ingestKey, baseUrl: p.url, maxRetries: 2, retryBaseMs: 100 });
  const started = Date.now();
  await client.ingest([{ tenant_id: 'r2', event_name: 'busy.test' }]);
  // Backoff waits at least half of 100 ms, then half of 200 ms.
  assert.ok(Date.now() - started >= 150, `waited ${Date.now() - started} ms`);
  assert.equal(p.requests.length, 3);
  assert.equal(await count('r2', 'busy.test'), 1);
});

test('429 waits for Retry-After', async () => {
  const p = await proxy(a.url, (_req, n) => (n === 1 ? { status: 429, headers: { 'Retry-After': '1' }, body: { error: 'slow down', code: 'rate_limited' } } : 'forward'));
  const client = new EmbanClient({ apiKey: a.adminKey, baseUrl: p.url, retryBaseMs: 1 });
  const started = Date.now();
  await client.dashboards.list();
  assert.ok(Date.now() - started >= 950, `honoured Retry-After: ${Date.now() - started} ms`);
  assert.equal(p.requests.length, 2);
});

test('a Retry-After longer than retryMaxMs fails at once', async () => {
  const p = await proxy(a.url, () => ({ status: 429, headers: { 'Retry-After': '120' }, body: { error: 'slow down', code: 'rate_limited' } }));
  const client = new EmbanClient({ apiKey: a.adminKey, baseUrl: p.url, retryMaxMs: 5000 });
  const err = await client.dashboards.list().catch((e) => e);
  assert.equal(err.retryAfter, 120);
  assert.equal(p.requests.length, 1);
});

test('a batch whose answer was lost is retried without double counting', async () => {
  // The server stores the batch, then the proxy drops the connection instead of answering.
  const p = await proxy(a.url, (_req, n) => (n === 1 ? 'forward-then-drop' : 'forward'));
  const client = new EmbanClient({ apiKey: a.ingestKey, baseUrl: p.url, retryBaseMs: 10 });
  const events = Array.from({ length: 5 }, (_, i) => ({ tenant_id: 'r3', event_name: 'lost.answer', numeric_props: { i } }));
  const result = await client.ingest(events);
  assert.equal(p.requests.length, 2);
  assert.equal(p.requests[0].body, p.requests[1].body, 'the retry resends the same event ids');
  assert.deepEqual([result.accepted, result.duplicates], [0, 5], 'the retry found them stored');
  assert.equal(await count('r3', 'lost.answer'), 5);
});

test('track() batches survive failures through the retries', async () => {
  const p = await proxy(a.url, (_req, n) => (n === 1 ? 'drop' : n === 2 ? { status: 500, body: { error: 'x', code: 'internal' } } : 'forward'));
  const errors = [];
  const client = new EmbanClient({ apiKey: a.ingestKey, baseUrl: p.url, retryBaseMs: 10, onError: (e) => errors.push(e) });
  for (let i = 0; i < 10; i++) client.track({ tenant_id: 'r4', event_name: 'queued.retry' });
  const result = await client.shutdown();
  assert.deepEqual(result, { sent: 10, failed: 0 });
  assert.deepEqual(errors, []);
  assert.equal(await count('r4', 'queued.retry'), 10);
});
