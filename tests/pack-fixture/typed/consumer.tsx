// A small typed consumer of the package (`tsc --noEmit -p typed`): every event payload and
// option is typed, the commands return typed promises, the React props and `ref` are typed.
// Each `@ts-expect-error` is a mistake the types must catch (tsc fails if one is not an error).
import { useRef } from 'react';
import { EmbanEmbed, EmbanError, type EmbanEvent, type EmbanState } from '@emban/embed-helper';
import { EmbanEmbedFrame } from '@emban/embed-helper/react';

export async function plain(container: HTMLElement, embedUrl: string): Promise<string> {
  const embed = EmbanEmbed.mount(container, { embedUrl, minHeight: 400, readyTimeout: 10_000 });
  const ready = await embed.ready;
  const id: string = ready.dashboardId;
  const off: () => void = embed.on('filter', (e) => {
    const period: string = e.period;
    const model: string | undefined = e.filters.model;
    void period, model;
  });
  off();
  embed.on('resize', (e) => e.height.toFixed(0));
  embed.on('drill', (e) => {
    const action: 'apply' | 'clear' | 'detail' = e.action;
    void action;
  });
  embed.on('session-expiring', (e) => new Date(e.expiresAt));
  embed.on('error', (e) => e.code === 'filter_refused' && e.recoverable);
  embed.on('export', (e) => {
    const widget: string | null = e.widgetId;
    const format: 'csv' | 'svg' | 'png' = e.format;
    void widget, format;
  });
  // @ts-expect-error: a resize event has no period
  embed.on('resize', (e) => e.period);
  // @ts-expect-error: no such event
  embed.on('redy', () => {});
  const applied = await embed.setFilters({ period: '7d', dimensions: { model: 'gpt-4' } });
  const state: EmbanState | null = embed.getState();
  // @ts-expect-error: the filter event's map is `filters`, setFilters takes `dimensions`
  void embed.setFilters({ filters: { model: 'gpt-4' } });
  // @ts-expect-error: theme tokens are strings
  void embed.setTheme({ primaryColor: 1 });
  // @ts-expect-error: colorScheme is 'light' or 'dark'
  void embed.setTheme({ colorScheme: 'sepia' });
  const theme = await embed.setTheme({ primaryColor: '#0f9d58', colorScheme: 'dark' });
  const swapped = await embed.setEmbedUrl(embedUrl);
  const next = await embed.once('period-change');
  try {
    await embed.reload();
  } catch (e) {
    if (e instanceof EmbanError && e.code === 'session_expired') return 'expired';
  }
  const any: EmbanEvent = applied;
  if (any.type === 'filter') void any.numericRanges;
  embed.destroy();
  return [id, applied.period, state?.period, theme.theme.primaryColor, swapped.origin, next.previousPeriod].join();
}

export function Analytics({ embedUrl }: { embedUrl: string | null }) {
  const ref = useRef<EmbanEmbed>(null);
  return (
    <EmbanEmbedFrame
      ref={ref}
      embedUrl={embedUrl}
      containerStyle={{ minHeight: 600 }}
      minHeight={300}
      title="Usage"
      onFilter={(e) => console.log(e.period, e.filters)}
      onSessionSwapped={(e) => console.log(e.dashboardId)}
      onExport={(e) => console.log(e.widgetId ?? 'dashboard', e.format)}
      onReady={() => ref.current?.setFilters({ period: '30d' })}
      // @ts-expect-error: a drill event has no height
      onDrill={(e) => e.height}
    />
  );
}
