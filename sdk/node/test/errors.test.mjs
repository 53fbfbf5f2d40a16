// Every error class, from the real server where it produces the status and from the loopback
// proxy where it does not (yet): 402, 409, 429, 5xx.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import {
  EmbanApiError,
  EmbanAuthError,
  EmbanClient,
  EmbanConflictError,
  EmbanConnectionError,
  EmbanError,
  EmbanNotFoundError,
  EmbanPermissionError,
  EmbanPlanLimitError,
  EmbanRateLimitError,
  EmbanValidationError,
} from '@emban/sdk';

import { account, proxy } from './helpers.mjs';

let a;
before(async () => {
  a = await account();
});

const fast = { maxRetries: 0, retryBaseMs: 1 };

test('401 from the server: EmbanAuthError with status, code and requestId', async () => {
  const client = new EmbanClient({ apiKey: 'emb_admin_not_a_real_key_000000000000000000000', baseUrl: a.url });
  const err = await client.dashboards.list().catch((e) => e);
  assert.ok(err instanceof EmbanAuthError && err instanceof EmbanError);
  assert.equal(err.status, 401);
  assert.equal(err.code, 'unauthorized');
  assert.match(err.requestId, /^[0-9a-f-]{36}$/);
  assert.equal(err.name, 'EmbanAuthError');
});

test('403 from the server: an ingest key on an admin route', async () => {
  const client = new EmbanClient({ apiKey: a.ingestKey, baseUrl: a.url });
  const err = await client.dashboards.list().catch((e) => e);
  assert.ok(err instanceof EmbanPermissionError, String(err));
  assert.equal(err.status, 403);
  assert.equal(err.code, 'forbidden');
});

test('404 from the server: EmbanNotFoundError', async () => {
  const client = new EmbanClient({ apiKey: a.adminKey, baseUrl: a.url });
  const err = await client.dashboards.get('00000000-0000-0000-0000-000000000000').catch((e) => e);
  assert.ok(err instanceof EmbanNotFoundError);
  assert.equal(err.code, 'not_found');
});

test('400 from the server: EmbanValidationError naming the field, not retried', async () => {
  const seen = await proxy(a.url, () => 'forward');
  const client = new EmbanClient({ apiKey: a.adminKey, baseUrl: seen.url, maxRetries: 3 });
  const err = await client.apiKeys.create({ label: 'x', scope: 'root' }).catch((e) => e);
  assert.ok(err instanceof EmbanValidationError, String(err));
  assert.equal(err.status, 400);
  assert.equal(err.code, 'invalid_request');
  assert.equal(err.field, 'scope');
  assert.equal(seen.requests.length, 1, 'a 4xx is never retried');

  const ingest = new EmbanClient({ apiKey: a.ingestKey, baseUrl: a.url });
  const bad = await ingest.ingest([{ tenant_id: 'acme', event_name: 'e', numeric_props: { n: 'not a number' } }]).catch((e) => e);
  assert.ok(bad instanceof EmbanValidationError);
  assert.match(bad.field, /^events\[0\]\.numeric_props/);
});

test('local validation: events without tenant or name are refused before sending', async () => {
  const client = new EmbanClient({ apiKey: a.ingestKey, baseUrl: a.url });
  await assert.rejects(client.ingest([{ event_name: 'e' }]), (e) => e instanceof EmbanValidationError && e.field === 'events[0].tenant_id');
  assert.throws(() => client.track({ tenant_id: 't' }), (e) => e instanceof EmbanValidationError && e.field === 'event.event_name');
});

test('402: EmbanPlanLimitError with plan, upgradeTo, limit, used', async () => {
  const body = { error: 'published dashboard limit reached for this plan', code: 'published_dashboards_limit', plan: 'free', upgrade_to: 'starter', limit: 1, used: 1 };
  const p = await proxy(a.url, () => ({ status: 402, body }));
  const client = new EmbanClient({ apiKey: a.adminKey, baseUrl: p.url, ...fast });
  const err = await client.dashboards.publish('d').catch((e) => e);
  assert.ok(err instanceof EmbanPlanLimitError);
  assert.deepEqual([err.status, err.code, err.plan, err.upgradeTo, err.limit, err.used], [402, 'published_dashboards_limit', 'free', 'starter', 1, 1]);
  assert.equal(err.message, body.error);
});

test('409: EmbanConflictError, not retried', async () => {
  const p = await proxy(a.url, () => ({ status: 409, body: { error: 'the dashboard was changed by another request', code: 'conflict' } }));
  const client = new EmbanClient({ apiKey: a.adminKey, baseUrl: p.url, maxRetries: 3 });
  const err = await client.dashboards.update('d', { name: 'n' }).catch((e) => e);
  assert.ok(err instanceof EmbanConflictError);
  assert.equal(err.code, 'conflict');
  assert.equal(p.requests.length, 1);
});

test('429 after the retries: EmbanRateLimitError with retryAfter', async () => {
  const p = await proxy(a.url, () => ({ status: 429, headers: { 'Retry-After': '0' }, body: { error: 'slow down', code: 'rate_limited' } }));
  const client = new EmbanClient({ apiKey: a.adminKey, baseUrl: p.url, maxRetries: 2 });
  const err = await client.dashboards.list().catch((e) => e);
  assert.ok(err instanceof EmbanRateLimitError);
  assert.equal(err.retryAfter, 0);
  assert.equal(p.requests.length, 3, 'first attempt and two retries');
  assert.equal(new Set(p.requests.map((r) => r.headers['x-request-id'])).size, 1, 'one request id across retries');
});

test('5xx after the retries: EmbanApiError', async () => {
  const p = await proxy(a.url, () => ({ status: 503, body: { error: 'unavailable', code: 'unavailable' } }));
  const client = new EmbanClient({ apiKey: a.adminKey, baseUrl: p.url, maxRetries: 1, retryBaseMs: 1 });
  const err = await client.dashboards.list().catch((e) => e);
  assert.ok(err instanceof EmbanApiError);
  assert.equal(err.status, 503);
  assert.equal(p.requests.length, 2);
});

test('a 5xx without our envelope still becomes EmbanApiError', async () => {
  const p = await proxy(a.url, () => ({ status: 502, headers: { 'Content-Type': 'text/html' }, body: '<html>bad gateway</html>' }));
  const client = new EmbanClient({ apiKey: a.adminKey, baseUrl: p.url, ...fast });
  const err = await client.dashboards.list().catch((e) => e);
  assert.ok(err instanceof EmbanApiError);
  assert.equal(err.status, 502);
});

test('unreachable server and timeouts: EmbanConnectionError', async () => {
  const p = await proxy(a.url, () => 'drop');
  const dropped = await new EmbanClient({ apiKey: a.adminKey, baseUrl: p.url, maxRetries: 1, retryBaseMs: 1 }).dashboards.list().catch((e) => e);
  assert.ok(dropped instanceof EmbanConnectionError, String(dropped));
  assert.equal(dropped.code, 'connection_failed');
  assert.equal(dropped.status, undefined);
  assert.equal(p.requests.length, 2);

  const hang = await proxy(a.url, () => 'hang');
  const started = Date.now();
  const timedOut = await new EmbanClient({ apiKey: a.adminKey, baseUrl: hang.url, maxRetries: 0, timeoutMs: 300 }).dashboards.list().catch((e) => e);
  assert.ok(timedOut instanceof EmbanConnectionError);
  assert.equal(timedOut.code, 'timeout');
  assert.ok(Date.now() - started < 5000);
});
