// The guide's `/api/analytics` route as a Next.js route handler: `{ embed_url }` for the browser.
import { DASHBOARD, getEmbedUrl } from '../../emban';

export const dynamic = 'force-dynamic';

export async function GET() {
  const url = await getEmbedUrl('demo_workspace', DASHBOARD());
  return Response.json({ embed_url: url });
}
