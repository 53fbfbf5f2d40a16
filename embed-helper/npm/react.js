// `@emban/embed-helper/react`: <EmbanEmbedFrame />, the helper as a React component. Mounts once;
// a new `embedUrl` prop swaps the session in place (setEmbedUrl), new `theme`/`filters` props are
// sent as commands, and unmounting destroys the embed. React is a peer dependency.
import { createElement, useEffect, useRef } from 'react';
import { EmbanEmbed } from './index.js';

/** Per-event props and the event each one receives. */
const EVENT_PROPS = {
  onReady: 'ready',
  onResize: 'resize',
  onFilter: 'filter',
  onPeriodChange: 'period-change',
  onDrill: 'drill',
  onError: 'error',
  onSessionSwapped: 'session-swapped',
  onSessionExpiring: 'session-expiring',
};

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export function EmbanEmbedFrame(props) {
  const { embedUrl, containerStyle, className, autoResize, minHeight, theme, filters, title } = props;
  const container = useRef(null);
  const embed = useRef(null);
  const latest = useRef(props);
  latest.current = props;
  // What the live embed was last given, so prop changes become commands rather than remounts.
  const sent = useRef({ embedUrl, theme, filters });

  useEffect(() => {
    const p = latest.current;
    const instance = EmbanEmbed.mount(container.current, {
      embedUrl: p.embedUrl,
      autoResize,
      minHeight,
      theme: p.theme,
      filters: p.filters,
      title,
      fetchEmbedUrl: p.fetchEmbedUrl ? () => latest.current.fetchEmbedUrl() : undefined,
    });
    sent.current = { embedUrl: p.embedUrl, theme: p.theme, filters: p.filters };
    for (const [prop, type] of Object.entries(EVENT_PROPS)) {
      instance.on(type, (event) => {
        const now = latest.current;
        if (now[prop]) now[prop](event);
        if (now.onEvent) now.onEvent(event);
      });
    }
    embed.current = instance;
    if (p.onMount) p.onMount(instance);
    return () => {
      embed.current = null;
      instance.destroy();
    };
    // Mount options other than the URL, theme and filters apply at mount only.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const instance = embed.current;
    if (!instance) return;
    if (embedUrl && embedUrl !== sent.current.embedUrl) {
      sent.current.embedUrl = embedUrl;
      instance.setEmbedUrl(embedUrl);
    }
    if (theme && !same(theme, sent.current.theme)) {
      sent.current.theme = theme;
      instance.setTheme(theme);
    }
    if (filters && !same(filters, sent.current.filters)) {
      sent.current.filters = filters;
      instance.setFilters(filters);
    }
  });

  return createElement('div', { ref: container, style: containerStyle, className, 'data-emban-frame': '' });
}
