// The guide's component, unchanged (reference/node-backend-guide.txt, "Frontend handoff"): no
// 'use client' here; the package's React entry is the client boundary.
import { EmbanEmbedFrame } from '@emban/embed-helper/react';

export function Analytics({ embedUrl }) {
  return (
    <EmbanEmbedFrame
      embedUrl={embedUrl}
      containerStyle={{ minHeight: 600 }}
    />
  );
}
