// Every area of the API through the SDK against a real server: names come back camelCase,
// user data (props, filters, viz options) unchanged.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import { EmbanAuthError, EmbanClient, EmbanNotFoundError } from '@emban/sdk';

import { account, countWidget, total } from './helpers.mjs';

let admin;
let ingest;

before(async () => {
  const a = await account();
  admin = new EmbanClient({ apiKey: a.adminKey, baseUrl: a.url });
  ingest = new EmbanClient({ apiKey: a.ingestKey, baseUrl: a.url });
  await ingest.ingest([
    { tenant_id: 'acme', event_name: 'api.call', user_id: 'u1', string_props: { model: 'gpt-4', planTier: 'pro' }, numeric_props: { tokens: 150, latencyMs: 230 } },
    { tenantId: 'acme', eventName: 'api.call', userId: 'u2', stringProps: { model: 'claude', planTier: 'pro' }, numericProps: { tokens: 50, latencyMs: 100 } },
    { tenant_id: 'globex', event_name: 'api.call', string_props: { model: 'gpt-4' }, numeric_props: { tokens: 7 } },
  ]);
});

test('ingest answers accepted and duplicates; a resent event id is a duplicate', async () => {
  const event = { tenant_id: 'acme', event_name: 'dup.check', event_id: 'fixed-id-1' };
  assert.deepEqual(await ingest.ingest([event]), { accepted: 1, duplicates: 0, status: 'ok' });
  assert.deepEqual(await ingest.ingest([event]), { accepted: 0, duplicates: 1, status: 'ok' });
});

test('query: camelCase params and answer, filters as f_<prop>, user prop names kept', async () => {
  const sum = await admin.query({ tenantId: 'acme', eventName: 'api.call', metric: 'sum', numericProp: 'tokens', period: '24h' });
  assert.equal(total(sum), 200);
  assert.equal(sum.meta.eventName, 'api.call');
  assert.equal(typeof sum.meta.queryTimeMs, 'number');
  const filtered = await admin.query({ tenantId: 'acme', eventName: 'api.call', metric: 'avg', numericProp: 'latencyMs', period: '24h', filters: { model: 'claude' } });
  assert.equal(total(filtered), 100);
  const grouped = await admin.query({ tenantId: 'acme', eventName: 'api.call', metric: 'count', period: '24h', groupBy: 'planTier' });
  assert.deepEqual(grouped.data.map((r) => [r.group, r.value]), [['pro', 2]]);
  assert.equal(grouped.meta.groupBy, 'planTier');
});

test('dashboards: create, get, update, widgets, publish, unpublish, restoreDraft, delete', async () => {
  const widget = countWidget('calls', 'api.call', { filters: { planTier: 'pro' } });
  widget.viz = { type: 'line', strokeWidth: 2 };
  const created = await admin.dashboards.create({ name: 'Usage', widgets: [widget] });
  assert.equal(created.name, 'Usage');
  assert.equal(created.published, false);
  assert.deepEqual(created.config.widgets[0].query.filters, { planTier: 'pro' }, 'filter keys are user data');
  assert.deepEqual(created.config.widgets[0].viz, { type: 'line', strokeWidth: 2 }, 'viz options are user data');
  assert.equal(created.config.widgets[0].query.eventName, 'api.call');

  assert.ok((await admin.dashboards.list()).some((d) => d.id === created.id));
  await admin.dashboards.publish(created.id);
  const published = await admin.dashboards.get(created.id);
  assert.equal(published.published, true);
  assert.equal(published.hasUnpublishedChanges, false);

  const renamed = await admin.dashboards.update(created.id, { name: 'Usage 2' });
  assert.equal(renamed.name, 'Usage 2');
  const added = await admin.dashboards.addWidget(created.id, { ...countWidget('tokens', 'api.call'), layout: { x: 6, y: 0, w: 6, h: 4 } });
  assert.equal(added.id, 'tokens');
  const retitled = await admin.dashboards.updateWidget(created.id, 'tokens', { title: 'Token calls' });
  assert.equal(retitled.title, 'Token calls');
  assert.equal((await admin.dashboards.get(created.id)).hasUnpublishedChanges, true);
  await admin.dashboards.restoreDraft(created.id);
  assert.deepEqual((await admin.dashboards.get(created.id)).config.widgets.map((w) => w.id), ['calls']);
  await admin.dashboards.addWidget(created.id, { ...countWidget('more', 'api.call'), layout: { x: 6, y: 0, w: 6, h: 4 } });
  await admin.dashboards.deleteWidget(created.id, 'more');
  await admin.dashboards.unpublish(created.id);
  assert.equal((await admin.dashboards.get(created.id)).published, false);
  await admin.dashboards.delete(created.id);
  await assert.rejects(admin.dashboards.get(created.id), EmbanNotFoundError);
});

test('standalone widgets: create, get, list, update, publish, preview, delete', async () => {
  const { id: _, ...body } = countWidget('x', 'api.call');
  const created = await admin.widgets.create(body);
  assert.equal(created.widget.query.eventName, 'api.call');
  assert.equal((await admin.widgets.get(created.id)).id, created.id);
  assert.ok((await admin.widgets.list()).some((w) => w.id === created.id));
  const updated = await admin.widgets.update(created.id, { title: 'Renamed' });
  assert.equal(updated.widget.title, 'Renamed');
  await admin.widgets.publish(created.id);
  assert.equal((await admin.widgets.get(created.id)).published.title, 'Renamed');
  const data = await admin.widgets.preview({
    tenantId: 'acme',
    widget: { kind: 'metric', title: 'Calls', query: { eventName: 'api.call', metric: 'count' }, viz: { type: 'number' } },
    filters: { period: '24h' },
  });
  assert.equal(data.kind, 'metric');
  assert.equal(total(data), 2);
  await admin.widgets.delete(created.id);
  await assert.rejects(admin.widgets.get(created.id), EmbanNotFoundError);
});

test('embed sessions: create with permissions, list', async () => {
  const dashboard = await admin.dashboards.create({ name: 'Embed', widgets: [countWidget('calls', 'api.call', { groupBy: 'model' })] });
  await admin.dashboards.publish(dashboard.id);
  const session = await admin.embedSessions.create({
    tenantId: 'acme',
    dashboardId: dashboard.id,
    expiresIn: 600,
    permissions: { allowDrillDown: true, allowedDimensions: ['model'], lockedFilters: { planTier: 'pro' }, allowedPeriods: ['7d', '30d'], maxDateRangeDays: 30 },
    allowedOrigins: ['https://app.example.com'],
  });
  assert.match(session.embedUrl, new RegExp(`/embed/${dashboard.id}\\?token=`));
  assert.ok(Date.parse(session.expiresAt) > Date.now());
  // The permissions arrived as the wire names them (and locked filter keys unchanged).
  const claims = JSON.parse(Buffer.from(session.token.split('.')[1], 'base64url').toString());
  assert.ok(JSON.stringify(claims).includes('planTier'), JSON.stringify(claims));
  const listed = await admin.embedSessions.list();
  const mine = listed.find((s) => s.dashboardId === dashboard.id);
  assert.equal(mine.tenantId, 'acme');
  assert.ok(mine.remainingTtlSeconds > 500 && mine.remainingTtlSeconds <= 600);
});

test('discovery: discover (all and one tenant) and autoCreate', async () => {
  const all = await admin.discovery.discover();
  assert.ok(all.eventsFound >= 1);
  const call = all.events.find((e) => e.eventName === 'api.call');
  assert.equal(call.tenants, 2);
  assert.ok(call.stringProps.some((p) => p.key === 'planTier'), 'prop keys as stored');
  const globex = await admin.discovery.discover({ tenantId: 'globex' });
  assert.equal(globex.events.find((e) => e.eventName === 'api.call').count, 1);
  const auto = await admin.discovery.autoCreate({ name: 'Auto' });
  assert.equal(auto.name, 'Auto');
  assert.ok(auto.widgets >= 1 && typeof auto.dashboardId === 'string');
});

test('API keys: create, list, revoke', async () => {
  const key = await admin.apiKeys.create({ label: 'worker', scope: 'ingest' });
  assert.match(key.key, /^emb_ingest_/);
  assert.ok((await admin.apiKeys.list()).some((k) => k.id === key.id && k.key === undefined));
  await admin.apiKeys.revoke(key.id);
  assert.ok((await admin.apiKeys.list()).find((k) => k.id === key.id).revokedAt);
  const revoked = new EmbanClient({ apiKey: key.key, baseUrl: admin.baseUrl });
  await assert.rejects(revoked.ingest([{ tenant_id: 't', event_name: 'e' }]), EmbanAuthError);
  await assert.rejects(admin.apiKeys.revoke(999_999), EmbanNotFoundError);
});

test('ad-hoc SQL, datasets and saved queries', async () => {
  const result = await admin.sql.run("SELECT event_name, count(*) AS n FROM events WHERE tenant_id = 'acme' GROUP BY event_name ORDER BY event_name");
  assert.deepEqual(result.columns.map((c) => c.name), ['event_name', 'n']);
  assert.ok(result.rows.some((r) => r[0] === 'api.call' && Number(r[1]) === 2));
  assert.equal(result.stats.truncated, false);
  assert.equal(typeof result.stats.rowsReturned, 'number');
  const { datasets } = await admin.datasets.list();
  assert.ok(datasets.some((d) => d.name === 'events' && typeof d.approxRows === 'number'));
  assert.match((await admin.datasets.ddl('events')).ddl, /CREATE/i);

  const saved = await admin.savedQueries.create({ name: 'calls', sql: 'SELECT 1' });
  assert.equal(saved.dataset, 'events');
  const starred = await admin.savedQueries.update(saved.id, { starred: true });
  assert.equal(starred.starred, true);
  assert.ok((await admin.savedQueries.list()).some((q) => q.id === saved.id));
  await admin.savedQueries.delete(saved.id);
  assert.ok(!(await admin.savedQueries.list()).some((q) => q.id === saved.id));
});

test('usage, onboarding, audit and me', async () => {
  const usage = await admin.usage.get({ period: '7d' });
  assert.ok(usage.totals.eventsIngested >= 3, JSON.stringify(usage));
  assert.equal(usage.daily.length, 7);
  const onboarding = await admin.usage.onboarding();
  assert.equal(onboarding.steps.firstEventSent, true);
  const audit = await admin.audit.list();
  assert.ok(audit.some((e) => e.action === 'api_key.create'), JSON.stringify(audit[0]));
  const me = await admin.auth.me();
  assert.equal(me.auth, 'api_key');
  assert.equal(me.scope, 'admin');
  assert.equal(typeof me.apiKeyId, 'number');
});
