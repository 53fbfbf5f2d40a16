// The package as installed from its tarball: ESM and CommonJS entry points, types, zero
// runtime dependencies, and the camelCase ↔ snake_case mapping (seen through an injected fetch).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';

import * as esm from '@emban/sdk';

const require = createRequire(import.meta.url);

test('ESM and CommonJS builds export the same API, with .d.ts files', () => {
  const cjs = require('@emban/sdk');
  assert.deepEqual(Object.keys(cjs).sort(), Object.keys(esm).sort());
  assert.equal(typeof cjs.EmbanClient, 'function');
  const root = dirname(require.resolve('@emban/sdk/package.json'));
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  assert.deepEqual(pkg.dependencies ?? {}, {}, 'zero runtime dependencies');
  assert.ok(existsSync(join(root, pkg.exports['.'].import.types)));
  assert.ok(existsSync(join(root, pkg.exports['.'].require.types)));
  assert.match(readFileSync(join(root, 'dist/esm/index.d.ts'), 'utf8'), /EmbanClient/);
});

test('uuidv7: version 7, variant 10, time-ordered', () => {
  const a = esm.uuidv7(1_700_000_000_000);
  const b = esm.uuidv7(1_700_000_000_001);
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(parseInt(a.replace(/-/g, '').slice(0, 12), 16), 1_700_000_000_000);
  assert.ok(a < b);
  assert.notEqual(esm.uuidv7(5), esm.uuidv7(5));
});

/** A client whose requests are recorded and answered with `answer`. */
function recording(answer) {
  const calls = [];
  const client = new esm.EmbanClient({
    apiKey: 'emb_admin_test',
    baseUrl: 'http://sdk.invalid/',
    fetch: async (url, init) => {
      calls.push({ url, init, body: init.body ? JSON.parse(init.body) : undefined });
      return new Response(JSON.stringify(answer), { status: 200, headers: { 'Content-Type': 'application/json' } });
    },
  });
  return { client, calls };
}

test('request bodies go out snake_case; user-data maps are untouched', async () => {
  const { client, calls } = recording({ token: 't', embed_url: 'http://x/embed/d?token=t', expires_at: 'z' });
  const session = await client.createEmbedSession({
    tenantId: 'acme',
    dashboardId: 'd',
    expiresIn: 60,
    permissions: { allowDrillDown: true, lockedFilters: { planTier: 'pro' }, maxDateRangeDays: 7 },
    allowedOrigins: ['https://a.example'],
  });
  assert.deepEqual(session, { token: 't', embedUrl: 'http://x/embed/d?token=t', expiresAt: 'z' });
  assert.equal(calls[0].url, 'http://sdk.invalid/v1/embed-sessions');
  assert.equal(calls[0].init.method, 'POST');
  assert.equal(calls[0].init.headers.Authorization, 'Bearer emb_admin_test');
  assert.deepEqual(calls[0].body, {
    tenant_id: 'acme',
    dashboard_id: 'd',
    expires_in: 60,
    permissions: { allow_drill_down: true, locked_filters: { planTier: 'pro' }, max_date_range_days: 7 },
    allowed_origins: ['https://a.example'],
  });
});

test('query parameters go out snake_case, filters as f_<prop>, path parameters encoded', async () => {
  const { client, calls } = recording({ data: [], meta: {} });
  await client.query({ tenantId: 'a b', eventName: 'api.call', metric: 'count', period: '7d', groupBy: 'model', filters: { endpoint: '/chat' } });
  assert.equal(calls[0].url, 'http://sdk.invalid/v1/query?tenant_id=a+b&event_name=api.call&metric=count&period=7d&group_by=model&f_endpoint=%2Fchat');
  await client.datasets.ddl('a/b');
  assert.equal(calls[1].url, 'http://sdk.invalid/v1/datasets/a%2Fb/ddl');
});

test('answers come back camelCase, except user data', async () => {
  const { client } = recording({
    dashboards: [{ id: 'd', has_unpublished_changes: true, config: { widgets: [{ query: { event_name: 'e', filters: { plan_tier: 'pro' } }, viz: { type: 'bar', bar_gap: 2 } }] } }],
  });
  const [d] = await client.dashboards.list();
  assert.equal(d.hasUnpublishedChanges, true);
  assert.equal(d.config.widgets[0].query.eventName, 'e');
  assert.deepEqual(d.config.widgets[0].query.filters, { plan_tier: 'pro' });
  assert.deepEqual(d.config.widgets[0].viz, { type: 'bar', bar_gap: 2 });
});

test('every ROUTES entry is a method and a /-path; exclusions give reasons', () => {
  for (const [name, [method, path]] of Object.entries(esm.ROUTES)) {
    assert.ok(['GET', 'POST', 'PATCH', 'DELETE'].includes(method), name);
    assert.ok(path.startsWith('/v1/'), name);
  }
  assert.ok(esm.EXCLUDED_ROUTES.every((r) => r.reason.length > 10));
});

test('planned routes (the reference, ahead of the server) send what the reference documents', async () => {
  const { client, calls } = recording({ id: 7 });
  await client.members.invite({ email: 'a@example.com', role: 'viewer' });
  await client.alerts.update(7, { thresholdValue: 1200, emailTo: ['ops@example.com'] });
  await client.reports.runs(3);
  await client.billing.checkoutConfig();
  assert.deepEqual(calls.map((c) => [c.init.method, c.url.replace('http://sdk.invalid', '')]), [
    ['POST', '/v1/members/invite'],
    ['PATCH', '/v1/alerts/7'],
    ['GET', '/v1/reports/3/runs'],
    ['GET', '/v1/billing/checkout-config'],
  ]);
  assert.deepEqual(calls[1].body, { threshold_value: 1200, email_to: ['ops@example.com'] });
});

test('inspecting or serializing a client never shows its key', async () => {
  const { inspect } = await import('node:util');
  const { client } = recording({});
  assert.ok(!inspect(client, { depth: 10, showHidden: true }).includes('emb_admin_test'));
  assert.ok(!JSON.stringify(client).includes('emb_admin_test'));
});

test('a missing apiKey is a clear error at construction', () => {
  assert.throws(() => new esm.EmbanClient({ apiKey: undefined }), /apiKey is required/);
});
