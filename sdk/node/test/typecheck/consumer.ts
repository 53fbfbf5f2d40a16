// Compiled with `tsc --noEmit` against the installed package's .d.ts files: the guide's snippet
// and typed uses of the surface must type-check as a TypeScript user writes them.
import express from 'express';
import {
  EmbanClient,
  EmbanPlanLimitError,
  EmbanRateLimitError,
  type EmbedSession,
  type QueryResult,
  type TenantClient,
} from '@emban/sdk';

const ingestClient = new EmbanClient({
  apiKey: process.env.EMBAN_INGEST_KEY,
  baseUrl: 'https://emban.sidelabs.dev',
});

const adminClient = new EmbanClient({
  apiKey: process.env.EMBAN_ADMIN_KEY,
  baseUrl: 'https://emban.sidelabs.dev',
});

await ingestClient.ingest([
  {
    tenant_id: 'customer_1',
    event_name: 'api.call',
    string_props: { model: 'gpt-4', endpoint: '/chat' },
    numeric_props: { tokens: 150, latency_ms: 230 },
  },
]);

const session: EmbedSession = await adminClient.createEmbedSession({
  tenantId: 'customer_1',
  dashboardId: 'dash_abc',
  permissions: {
    allowDrillDown: true,
    allowedDimensions: ['model', 'endpoint'],
  },
});

console.log(session.embedUrl);

const scoped: TenantClient = adminClient.forTenant('customer_1');
const result: QueryResult = await scoped.query({ eventName: 'api.call', metric: 'p95', numericProp: 'latency_ms', period: '7d', granularity: 'day' });
const first: number | null | undefined = result.data[0]?.value;
void first;

try {
  await adminClient.dashboards.publish('d');
} catch (e) {
  if (e instanceof EmbanPlanLimitError) console.log(e.plan, e.upgradeTo, e.limit, e.used);
  if (e instanceof EmbanRateLimitError) console.log(e.retryAfter, e.requestId);
}

const app = express();
app.use(adminClient.middleware({ tenantFrom: (req) => req.header('x-org') }));
app.get('/', (req, res) => {
  res.json({ scoped: req.emban !== undefined });
});

// @ts-expect-error metric must be one of the server's metrics
await adminClient.query({ tenantId: 't', eventName: 'e', metric: 'median', period: '7d' });
