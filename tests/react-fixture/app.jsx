// <EmbanEmbedFrame /> in a real React app: the test (tests/tests/react.rs) drives it through the
// window hooks below and reads every event from `window.__events`.
import { useState } from 'react';
import { createRoot } from 'react-dom/client';
import { EmbanEmbedFrame } from '@emban/embed-helper/react';

window.__events = [];
window.__mounts = [];
window.__renders = 0;
const params = new URLSearchParams(location.search);

function App() {
  const [embedUrl, setEmbedUrl] = useState(params.get('embed'));
  const [filters, setFilters] = useState(undefined);
  const [theme, setTheme] = useState(undefined);
  window.__setEmbedUrl = setEmbedUrl;
  window.__setFilters = setFilters;
  window.__setTheme = setTheme;
  window.__renders += 1;
  return (
    <EmbanEmbedFrame
      embedUrl={embedUrl}
      filters={filters}
      theme={theme}
      minHeight={150}
      title="Analytics (React)"
      containerStyle={{ width: '1000px' }}
      onEvent={(event) => window.__events.push({ origin: 'react', fromEmbed: true, data: JSON.parse(JSON.stringify(event)) })}
      onReady={(event) => { window.__onReady = (window.__onReady || 0) + 1; }}
      onMount={(embed) => { window.__embed = embed; window.__mounts.push(embed.iframe); }}
    />
  );
}

const root = createRoot(document.getElementById('root'));
root.render(<App />);
window.__unmount = () => root.unmount();
