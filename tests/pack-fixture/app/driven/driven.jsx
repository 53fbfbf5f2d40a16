'use client';
// The frame driven through its `ref` (the helper instance): the test calls window.__embed's
// commands and reads every event from window.__events.
import { useEffect, useRef } from 'react';
import { EmbanEmbedFrame } from '@emban/embed-helper/react';

export function Driven({ embedUrl }) {
  const ref = useRef(null);
  useEffect(() => {
    window.__events = window.__events || [];
    window.__ref = () => ref.current;
  });
  return (
    <EmbanEmbedFrame
      ref={ref}
      embedUrl={embedUrl}
      containerStyle={{ minHeight: 600, width: 1000 }}
      onEvent={(event) => (window.__events = window.__events || []).push({ origin: 'next', fromEmbed: true, data: JSON.parse(JSON.stringify(event)) })}
      onMount={(embed) => { window.__embed = embed; window.__mounts = (window.__mounts || 0) + 1; }}
    />
  );
}
