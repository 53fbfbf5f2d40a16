// A host page's script as a frontend developer writes it, bundled by Vite (`vite build web`) and
// by esbuild (`esbuild --bundle --format=esm`) from the package installed out of its tarball.
import { EmbanEmbed } from '@emban/embed-helper';

window.__events = [];
const params = new URLSearchParams(location.search);
const embed = EmbanEmbed.mount('#c', { embedUrl: params.get('embed'), minHeight: 120 });
window.__embed = embed;
for (const type of ['ready', 'filter', 'error']) {
  embed.on(type, (e) => window.__events.push({ origin: 'bundle', fromEmbed: true, data: JSON.parse(JSON.stringify(e)) }));
}
embed.ready
  .then(() => embed.setFilters({ period: '7d' }))
  .then((e) => (window.__applied = e.period), (e) => (window.__applied = `refused: ${e.message}`));
