// The guide's server-SDK snippet (guide/snippet.mjs, verbatim) runs unchanged against a real
// server: it ingests an event and prints a signed embed URL for customer_1.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { EmbanClient } from '@emban/sdk';

import { account, countWidget, total } from './helpers.mjs';

const here = dirname(fileURLToPath(import.meta.url));

test('the guide snippet runs unchanged and prints an embed URL', async () => {
  const { url, adminKey, ingestKey } = await account();
  const admin = new EmbanClient({ apiKey: adminKey, baseUrl: url });
  const dashboard = await admin.dashboards.create({
    name: 'API usage',
    widgets: [countWidget('calls', 'api.call', { groupBy: 'model' })],
  });
  await admin.dashboards.publish(dashboard.id);

  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', join(here, 'guide/shim.mjs'), join(here, 'guide/snippet.mjs')],
    {
      cwd: here,
      env: {
        ...process.env,
        EMBAN_INGEST_KEY: ingestKey,
        EMBAN_ADMIN_KEY: adminKey,
        GUIDE_SERVER_URL: url,
        GUIDE_DASHBOARD_ID: dashboard.id,
      },
    },
  );
  const embedUrl = new URL(stdout.trim());
  assert.equal(embedUrl.origin, url);
  assert.equal(embedUrl.pathname, `/embed/${dashboard.id}`);
  assert.ok((embedUrl.searchParams.get('token') ?? '').split('.').length === 3, 'a JWT');

  // The event arrived, and the session is listed for customer_1.
  const result = await admin.query({ tenantId: 'customer_1', eventName: 'api.call', metric: 'count', period: '24h' });
  assert.equal(total(result), 1);
  const sessions = await admin.listEmbedSessions();
  assert.deepEqual(sessions.map((s) => [s.tenantId, s.dashboardId]), [['customer_1', dashboard.id]]);
});

test('embed sessions are revoked one by one or per tenant', async () => {
  const { url, adminKey } = await account();
  const admin = new EmbanClient({ apiKey: adminKey, baseUrl: url });
  const dashboard = await admin.dashboards.create({ name: 'Usage', widgets: [countWidget('calls', 'api.call')] });
  await admin.dashboards.publish(dashboard.id);
  const mint = (tenantId) => admin.createEmbedSession({ tenantId, dashboardId: dashboard.id });
  const [one, two, other] = [await mint('acme'), await mint('acme'), await mint('globex')];
  const status = async (session) =>
    (await fetch(`${url}/v1/embed/dashboard`, { headers: { authorization: `Bearer ${session.token}` } })).status;
  const jti = (session) => JSON.parse(Buffer.from(session.token.split('.')[1], 'base64url').toString()).jti;

  await admin.embedSessions.revoke(jti(one));
  assert.deepEqual([await status(one), await status(two)], [401, 200]);
  await admin.revokeTenantEmbedSessions('acme');
  assert.deepEqual([await status(two), await status(other), await status(await mint('acme'))], [401, 200, 200]);
});
