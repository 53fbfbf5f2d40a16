// track(): batches at flushAt events, at flushBytes of JSON and after flushIntervalMs; flush()
// and shutdown() drain; a bounded queue reports what it refuses; failed batches are reported
// with their events.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import { EmbanClient, EmbanDeliveryError, EmbanQueueError } from '@emban/sdk';

import { account, proxy, total } from './helpers.mjs';

let a;
let admin;
before(async () => {
  a = await account();
  admin = new EmbanClient({ apiKey: a.adminKey, baseUrl: a.url });
});

const count = async (tenant, event) =>
  total(await admin.query({ tenantId: tenant, eventName: event, metric: 'count', period: '24h' }));
const batchSizes = (p) => p.requests.map((r) => JSON.parse(r.body).events.length);

test('flushes every flushAt events, and shutdown sends the rest', async () => {
  const p = await proxy(a.url, () => 'forward');
  const client = new EmbanClient({ apiKey: a.ingestKey, baseUrl: p.url, flushAt: 100, flushIntervalMs: 60_000 });
  for (let i = 0; i < 250; i++) client.track({ tenant_id: 'b1', event_name: 'flush.at', numeric_props: { i } });
  const result = await client.shutdown();
  assert.deepEqual(result.failed, 0);
  assert.deepEqual(batchSizes(p).reduce((x, y) => x + y, 0), 250);
  assert.ok(batchSizes(p).every((n) => n <= 100), String(batchSizes(p)));
  assert.ok(batchSizes(p).includes(100));
  assert.equal(await count('b1', 'flush.at'), 250);
  assert.equal(client.queued, 0);
});

test('the default flushAt is 1,000 events', async () => {
  const p = await proxy(a.url, () => 'forward');
  const client = new EmbanClient({ apiKey: a.ingestKey, baseUrl: p.url, flushIntervalMs: 60_000 });
  for (let i = 0; i < 2500; i++) client.track({ tenant_id: 'b2', event_name: 'flush.default' });
  await client.shutdown();
  assert.deepEqual(batchSizes(p).slice(0, 2), [1000, 1000]);
  assert.equal(batchSizes(p).reduce((x, y) => x + y, 0), 2500);
  assert.equal(await count('b2', 'flush.default'), 2500);
});

test('flushes at flushBytes of JSON; the default is 500 KB', async () => {
  const p = await proxy(a.url, () => 'forward');
  const big = 'x'.repeat(900);
  const client = new EmbanClient({ apiKey: a.ingestKey, baseUrl: p.url, flushIntervalMs: 60_000 });
  for (let i = 0; i < 700; i++) client.track({ tenant_id: 'b3', event_name: 'flush.bytes', string_props: { big } });
  await client.shutdown();
  const sizes = p.requests.map((r) => Buffer.byteLength(r.body));
  assert.ok(sizes.length >= 2, `split by bytes: ${sizes}`);
  assert.ok(sizes.every((s) => s <= 500_000), String(sizes));
  assert.ok(batchSizes(p)[0] < 1000);
  assert.equal(await count('b3', 'flush.bytes'), 700);
});

test('flushes flushIntervalMs after the first queued event', async () => {
  const p = await proxy(a.url, () => 'forward');
  const client = new EmbanClient({ apiKey: a.ingestKey, baseUrl: p.url, flushIntervalMs: 300 });
  client.track({ tenant_id: 'b4', event_name: 'flush.interval' });
  client.track({ tenant_id: 'b4', event_name: 'flush.interval' });
  assert.equal(p.requests.length, 0);
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(p.requests.length, 0, 'not before the interval');
  // Polled, not slept: a loaded machine may be late, never early.
  for (let i = 0; i < 100 && client.queued > 0; i++) await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 100 && p.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(batchSizes(p), [2]);
  assert.equal(client.queued, 0);
  // The proxy has the request; its answer (and so the commit) may still be on the way.
  let stored = 0;
  for (let i = 0; i < 100 && (stored = await count('b4', 'flush.interval')) < 2; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(stored, 2);
});

test('flush() sends what is queued now and stamps event_id (UUIDv7) and timestamp', async () => {
  const p = await proxy(a.url, () => 'forward');
  const client = new EmbanClient({ apiKey: a.ingestKey, baseUrl: p.url, flushIntervalMs: 60_000 });
  const before = Date.now();
  client.track({ tenantId: 'b5', eventName: 'flush.now', stringProps: { camelKey: 'v' } });
  client.track({ tenant_id: 'b5', event_name: 'flush.now', event_id: 'mine' });
  assert.deepEqual(await client.flush(), { sent: 2, failed: 0 });
  const [first, second] = JSON.parse(p.requests[0].body).events;
  assert.match(first.event_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(Math.abs(parseInt(first.event_id.replace(/-/g, '').slice(0, 12), 16) - before) < 5000, 'time-ordered');
  assert.equal(second.event_id, 'mine');
  assert.ok(Date.parse(first.timestamp) >= before - 1000);
  assert.deepEqual(first.string_props, { camelKey: 'v' }, 'prop names are the caller’s');
  assert.equal(first.tenant_id, 'b5');
});

test('a full queue refuses events and reports every one through onError', async () => {
  const errors = [];
  const p = await proxy(a.url, () => 'forward');
  const client = new EmbanClient({ apiKey: a.ingestKey, baseUrl: p.url, maxQueueSize: 5, flushAt: 1000, flushIntervalMs: 60_000, onError: (e) => errors.push(e) });
  const accepted = Array.from({ length: 8 }, () => client.track({ tenant_id: 'b6', event_name: 'queue.full' }));
  assert.deepEqual(accepted, [true, true, true, true, true, false, false, false]);
  assert.equal(client.dropped, 3);
  assert.equal(errors.length, 3);
  assert.ok(errors.every((e) => e instanceof EmbanQueueError && e.code === 'queue_full'));
  assert.equal(errors[2].droppedTotal, 3);
  await client.shutdown();
  assert.equal(await count('b6', 'queue.full'), 5);
  // After shutdown, track() refuses and reports too.
  assert.equal(client.track({ tenant_id: 'b6', event_name: 'queue.full' }), false);
  assert.equal(errors.at(-1).code, 'client_closed');
});

test('a batch that fails after the retries is reported with its events', async () => {
  const errors = [];
  const p = await proxy(a.url, () => ({ status: 503, body: { error: 'down', code: 'unavailable' } }));
  const client = new EmbanClient({ apiKey: a.ingestKey, baseUrl: p.url, maxRetries: 1, retryBaseMs: 1, onError: (e) => errors.push(e) });
  client.track({ tenant_id: 'b7', event_name: 'undelivered' });
  client.track({ tenant_id: 'b7', event_name: 'undelivered' });
  assert.deepEqual(await client.shutdown(), { sent: 0, failed: 2 });
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof EmbanDeliveryError);
  assert.equal(errors[0].status, 503);
  assert.equal(errors[0].events.length, 2);
  assert.ok(errors[0].events.every((e) => typeof e.event_id === 'string'));
  // Resending them later cannot double count: the ids are kept.
  const direct = new EmbanClient({ apiKey: a.ingestKey, baseUrl: a.url });
  assert.equal((await direct.ingest(errors[0].events)).accepted, 2);
  assert.equal((await direct.ingest(errors[0].events)).duplicates, 2);
});

test('ingest() splits arrays over 10,000 events', async () => {
  const p = await proxy(a.url, () => 'forward');
  const client = new EmbanClient({ apiKey: a.ingestKey, baseUrl: p.url });
  const events = Array.from({ length: 12_000 }, () => ({ tenant_id: 'b8', event_name: 'split' }));
  const result = await client.ingest(events);
  assert.equal(result.accepted, 12_000);
  assert.deepEqual(batchSizes(p), [10_000, 2_000]);
});
