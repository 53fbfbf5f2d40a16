// A server component page: mints the session on the server, renders the guide's component.
import { Analytics } from './analytics';
import { DASHBOARD, getEmbedUrl } from './emban';

export const dynamic = 'force-dynamic';

export default async function Page() {
  const embedUrl = await getEmbedUrl('demo_workspace', DASHBOARD());
  return (
    <main>
      <h1>Analytics</h1>
      <Analytics embedUrl={embedUrl} />
    </main>
  );
}
