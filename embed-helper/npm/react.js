'use client';
// `@emban/embed-helper/react`: <EmbanEmbedFrame />, the helper as a React component (a client
// component: server rendering gives its container and nothing else). Importing it touches no
// browser API; the first mount loads the helper (and its wasm) once for every frame. It mounts
// once a non-empty `embedUrl` is there; a new `embedUrl` swaps the session in place
// (setEmbedUrl); new `theme`/`filters`/`minHeight`/`title` props apply live; unmounting destroys
// the embed. `ref` receives the helper instance once mounted. React is a peer dependency.
import { createElement, forwardRef, useEffect, useImperativeHandle, useRef, useState } from 'react';

/** Per-event props and the event each one receives. */
const EVENT_PROPS = {
  onReady: 'ready',
  onResize: 'resize',
  onFilter: 'filter',
  onPeriodChange: 'period-change',
  onDrill: 'drill',
  onError: 'error',
  onTheme: 'theme',
  onExport: 'export',
  onSessionSwapped: 'session-swapped',
  onSessionExpiring: 'session-expiring',
};

let helper;
const load = () => (helper ??= import('./api.js').then((m) => m.load()));

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export const EmbanEmbedFrame = forwardRef(function EmbanEmbedFrame(props, ref) {
  const { embedUrl, containerStyle, className, minHeight, theme, filters, title } = props;
  const container = useRef(null);
  const latest = useRef(props);
  latest.current = props;
  // What the live embed was last given, so prop changes become commands rather than remounts.
  const sent = useRef({});
  const [embed, setEmbed] = useState(null);
  // Set once a URL has arrived; the frame stays mounted if the URL is cleared later.
  const [armed, setArmed] = useState(!!embedUrl);
  if (embedUrl && !armed) setArmed(true);
  useImperativeHandle(ref, () => embed, [embed]);

  useEffect(() => {
    if (!armed) return undefined;
    let live = true;
    let instance;
    // Always asynchronous: under StrictMode the first effect is cleaned up before the helper
    // resolves, so only the live mount creates an iframe and calls onMount.
    load()
      .then((EmbanEmbed) => {
        if (!live) return;
        const p = latest.current;
        instance = EmbanEmbed.mount(container.current, {
          embedUrl: p.embedUrl,
          autoResize: p.autoResize,
          minHeight: p.minHeight,
          theme: p.theme,
          filters: p.filters,
          title: p.title,
          readyTimeout: p.readyTimeout,
          fetchEmbedUrl: p.fetchEmbedUrl ? () => latest.current.fetchEmbedUrl() : undefined,
        });
        sent.current = { embedUrl: p.embedUrl, theme: p.theme, filters: p.filters, minHeight: p.minHeight, title: p.title };
        for (const [prop, type] of Object.entries(EVENT_PROPS)) {
          instance.on(type, (event) => {
            const now = latest.current;
            if (now[prop]) now[prop](event);
            if (now.onEvent) now.onEvent(event);
          });
        }
        setEmbed(instance);
        if (p.onMount) p.onMount(instance);
      })
      .catch((error) => console.error('EmbanEmbedFrame: could not mount the embed:', error));
    return () => {
      live = false;
      if (instance) instance.destroy();
      setEmbed(null);
    };
  }, [armed]);

  // Live props: each change becomes a command on the mounted embed.
  useEffect(() => {
    if (!embed) return;
    const s = sent.current;
    try {
      if (embedUrl && embedUrl !== s.embedUrl) {
        s.embedUrl = embedUrl;
        embed.setEmbedUrl(embedUrl);
      }
      if (theme && !same(theme, s.theme)) {
        s.theme = theme;
        embed.setTheme(theme);
      }
      if (filters && !same(filters, s.filters)) {
        s.filters = filters;
        embed.setFilters(filters);
      }
      if (minHeight !== s.minHeight) {
        s.minHeight = minHeight;
        embed.setMinHeight(minHeight ?? 0);
      }
      if (title !== s.title) {
        s.title = title;
        embed.iframe.title = title || 'Emban dashboard';
      }
    } catch (error) {
      console.error('EmbanEmbedFrame:', error);
    }
  });

  return createElement('div', { ref: container, style: containerStyle, className, 'data-emban-frame': '' });
});
