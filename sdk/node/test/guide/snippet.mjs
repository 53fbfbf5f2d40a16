import { EmbanClient } from '@emban/sdk';

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

const session = await adminClient.createEmbedSession({
  tenantId: 'customer_1',
  dashboardId: 'dash_abc',
  permissions: {
    allowDrillDown: true,
    allowedDimensions: ['model', 'endpoint'],
  },
});

console.log(session.embedUrl);
