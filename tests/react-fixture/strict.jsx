// <EmbanEmbedFrame /> under React's StrictMode in a development build (effects mount, unmount and
// mount again), with no `embedUrl` at first: the test (tests/tests/react.rs) hands the URL over
// through `window.__setEmbedUrl` and checks that exactly one iframe, one `message` listener and
// one onMount remain; `minHeight` and `title` then change live.
import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { EmbanEmbedFrame } from '@emban/embed-helper/react';

window.__events = [];
window.__mounts = [];

function App() {
  const [embedUrl, setEmbedUrl] = useState(null);
  const [minHeight, setMinHeight] = useState(150);
  const [title, setTitle] = useState('Strict analytics');
  window.__setEmbedUrl = setEmbedUrl;
  window.__setMinHeight = setMinHeight;
  window.__setTitle = setTitle;
  return (
    <EmbanEmbedFrame
      embedUrl={embedUrl}
      minHeight={minHeight}
      title={title}
      containerStyle={{ width: '1000px' }}
      onEvent={(event) => window.__events.push({ origin: 'react', fromEmbed: true, data: JSON.parse(JSON.stringify(event)) })}
      onMount={(embed) => window.__mounts.push(embed)}
    />
  );
}

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
window.__rendered = true;
