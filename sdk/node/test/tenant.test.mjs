// forTenant(): events stamped with the tenant, other tenants refused before anything is sent,
// queries and embed sessions confined to it.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import { EmbanClient, EmbanValidationError, TenantClient } from '@emban/sdk';

import { account, countWidget, proxy, total } from './helpers.mjs';

let a;
let admin;
let dashboardId;
before(async () => {
  a = await account();
  admin = new EmbanClient({ apiKey: a.adminKey, baseUrl: a.url });
  const d = await admin.dashboards.create({ name: 'T', widgets: [countWidget('c', 'tenant.event', { groupBy: 'plan' })] });
  await admin.dashboards.publish(d.id);
  dashboardId = d.id;
});

const mismatch = (e) => e instanceof EmbanValidationError && e.code === 'tenant_mismatch';

test('ingest and track stamp the tenant; an event naming another tenant is refused and nothing is sent', async () => {
  const p = await proxy(a.url, () => 'forward');
  const client = new EmbanClient({ apiKey: a.ingestKey, baseUrl: p.url });
  const acme = client.forTenant('acme');
  assert.ok(acme instanceof TenantClient);
  assert.equal(acme.tenantId, 'acme');
  await acme.ingest([{ event_name: 'tenant.event', string_props: { plan: 'pro' } }, { tenant_id: 'acme', event_name: 'tenant.event' }]);
  acme.track({ eventName: 'tenant.event' });
  await acme.flush();
  assert.equal(p.requests.length, 2);
  for (const r of p.requests) assert.ok(JSON.parse(r.body).events.every((e) => e.tenant_id === 'acme'));

  await assert.rejects(acme.ingest([{ event_name: 'tenant.event' }, { tenant_id: 'globex', event_name: 'tenant.event' }]), (e) => mismatch(e) && e.field === 'events[1].tenant_id');
  assert.throws(() => acme.track({ tenantId: 'globex', eventName: 'tenant.event' }), mismatch);
  assert.equal(p.requests.length, 2, 'nothing was sent for the refused calls');
  await client.shutdown();
});

test('queries, previews and discovery cover the tenant only', async () => {
  const ingest = new EmbanClient({ apiKey: a.ingestKey, baseUrl: a.url });
  await ingest.ingest([
    { tenant_id: 'q-acme', event_name: 'tenant.q' },
    { tenant_id: 'q-globex', event_name: 'tenant.q' },
    { tenant_id: 'q-globex', event_name: 'tenant.q' },
  ]);
  const acme = admin.forTenant('q-acme');
  assert.equal(total(await acme.query({ eventName: 'tenant.q', metric: 'count', period: '24h' })), 1);
  await assert.rejects(acme.query({ tenantId: 'q-globex', eventName: 'tenant.q', metric: 'count', period: '24h' }), mismatch);
  const preview = await acme.previewWidget({ widget: { kind: 'metric', title: 'n', query: { eventName: 'tenant.q', metric: 'count' }, viz: { type: 'number' } }, filters: { period: '24h' } });
  assert.equal(total(preview), 1);
  const discovered = await acme.discover();
  assert.equal(discovered.events.find((e) => e.eventName === 'tenant.q').count, 1);
});

test('embed sessions are bound to the tenant, and its list shows only its own', async () => {
  const acme = admin.forTenant('acme');
  const globex = admin.forTenant('globex');
  const session = await acme.createEmbedSession({ dashboardId, permissions: { allowedDimensions: ['plan'] } });
  await globex.createEmbedSession({ dashboardId });
  const claims = JSON.parse(Buffer.from(session.token.split('.')[1], 'base64url').toString());
  assert.ok(Object.values(claims).includes('acme'), JSON.stringify(claims));
  await assert.rejects(acme.createEmbedSession({ tenantId: 'globex', dashboardId }), mismatch);
  const listed = await acme.listEmbedSessions();
  assert.ok(listed.length >= 1 && listed.every((s) => s.tenantId === 'acme'));
  assert.ok((await admin.listEmbedSessions()).some((s) => s.tenantId === 'globex'));
});

test('a tenant id follows the server rule: 1 to 200 characters, not blank, no control characters', () => {
  for (const bad of ['', ' ', 'x'.repeat(201), 'tab\there', 'nul\u0000']) {
    assert.throws(() => admin.forTenant(bad), EmbanValidationError, JSON.stringify(bad));
  }
  assert.equal(admin.forTenant(' padded ').tenantId, ' padded ');
});
