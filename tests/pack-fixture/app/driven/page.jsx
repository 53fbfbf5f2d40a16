import { DASHBOARD, getEmbedUrl } from '../emban';
import { Driven } from './driven';

export const dynamic = 'force-dynamic';

export default async function Page() {
  return <Driven embedUrl={await getEmbedUrl('demo_workspace', DASHBOARD())} />;
}
