// Server-side only: mints an embed session the guide's way ("Create embed session"), against the
// Emban server the test started (EMBAN_URL, EMBAN_ADMIN_KEY; EMBAN_DASHBOARD is the published
// demo dashboard).
const EMBAN_ADMIN_KEY = process.env.EMBAN_ADMIN_KEY;
const EMBAN_URL = process.env.EMBAN_URL;

export async function getEmbedUrl(tenantId, dashboardId) {
  const res = await fetch(`${EMBAN_URL}/v1/embed-sessions`, {
    method: 'POST',
    headers: { 'Authorization': `Bearer ${EMBAN_ADMIN_KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      tenant_id: tenantId,
      dashboard_id: dashboardId,
      expires_in: 3600,
      permissions: {
        allow_drill_down: true,
        allowed_dimensions: ['model', 'endpoint']
      }
    }),
  });
  const { embed_url } = await res.json();
  return embed_url;
}

export const DASHBOARD = () => process.env.EMBAN_DASHBOARD;
