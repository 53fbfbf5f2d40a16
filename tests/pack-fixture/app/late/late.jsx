'use client';
// `embedUrl` empty at first: the page fetches it from the route handler after hydration, the
// way a host that mints on demand does.
import { useEffect, useState } from 'react';
import { EmbanEmbedFrame } from '@emban/embed-helper/react';

export function Late() {
  const [embedUrl, setEmbedUrl] = useState(null);
  useEffect(() => {
    window.__load = () =>
      fetch('/api/analytics').then((r) => r.json()).then((s) => setEmbedUrl(s.embed_url));
    window.__hydrated = true;
  }, []);
  return (
    <EmbanEmbedFrame
      embedUrl={embedUrl}
      containerStyle={{ minHeight: 600 }}
      onReady={(event) => { window.__ready = event.dashboardId; }}
    />
  );
}
