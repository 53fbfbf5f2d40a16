// client.middleware() in a real Express app (express from npm): req.emban is the client, or the
// request's tenant handle with tenantFrom.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { EmbanClient, TenantClient } from '@emban/sdk';
import express from 'express';

import { account, countWidget, total } from './helpers.mjs';

let a;
let admin;
let ingest;
let base;
let dashboardId;
let listener;

after(() => new Promise((resolve) => listener.close(resolve)));

before(async () => {
  a = await account();
  admin = new EmbanClient({ apiKey: a.adminKey, baseUrl: a.url });
  ingest = new EmbanClient({ apiKey: a.ingestKey, baseUrl: a.url, flushIntervalMs: 60_000 });
  const d = await admin.dashboards.create({ name: 'M', widgets: [countWidget('c', 'mw.call')] });
  await admin.dashboards.publish(d.id);
  dashboardId = d.id;

  const app = express();
  app.use(express.json());
  // The user's org, as an auth layer would set it.
  app.use((req, _res, next) => {
    req.user = { orgId: req.get('x-org') };
    next();
  });
  const scoped = express.Router();
  scoped.use(admin.middleware({ tenantFrom: (req) => req.user.orgId }));
  scoped.get('/analytics', async (req, res, next) => {
    try {
      const session = await req.emban.createEmbedSession({ dashboardId });
      res.json({ embed_url: session.embedUrl, tenant: req.emban.tenantId, scoped: req.emban instanceof TenantClient });
    } catch (e) {
      next(e);
    }
  });
  app.use('/api', scoped);
  app.post('/track', ingest.middleware({ tenantFrom: async (req) => req.user.orgId }), (req, res) => {
    const queued = req.emban.track({ event_name: 'mw.call', string_props: req.body });
    res.status(202).json({ queued });
  });
  app.get('/admin', admin.middleware(), (req, res) => {
    res.json({ same: req.emban === admin });
  });
  app.use((err, _req, res, _next) => {
    res.status(err.status ?? 500).json({ error: err.message, code: err.code });
  });
  listener = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => listener.once('listening', resolve));
  base = `http://127.0.0.1:${listener.address().port}`;
});

test('req.emban is the tenant handle for the request’s tenant', async () => {
  const res = await fetch(`${base}/api/analytics`, { headers: { 'x-org': 'customer_7' } });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.deepEqual([body.tenant, body.scoped], ['customer_7', true]);
  assert.match(body.embed_url, new RegExp(`/embed/${dashboardId}\\?token=`));
  assert.ok((await admin.forTenant('customer_7').listEmbedSessions()).length === 1);
});

test('events tracked through req.emban are stamped with the tenant', async () => {
  for (const org of ['org_a', 'org_a', 'org_b']) {
    const res = await fetch(`${base}/track`, { method: 'POST', headers: { 'x-org': org, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4' }) });
    assert.equal(res.status, 202);
  }
  await ingest.shutdown();
  const count = async (tenant) => total(await admin.query({ tenantId: tenant, eventName: 'mw.call', metric: 'count', period: '24h' }));
  assert.deepEqual([await count('org_a'), await count('org_b')], [2, 1]);
});

test('without tenantFrom req.emban is the client; no tenant is an error passed to next', async () => {
  assert.deepEqual(await (await fetch(`${base}/admin`)).json(), { same: true });
  const res = await fetch(`${base}/api/analytics`);
  assert.equal(res.status, 500);
  assert.equal((await res.json()).code, 'no_tenant');
});
