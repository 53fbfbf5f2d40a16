// Types of `@emban/embed-helper` (index.js). Event payloads follow the runtime's postMessage
// contract (contract/src/messages.rs); every event carries `_emban: true` and its `type`.

/** Theme tokens of `setTheme`: CSS colours, and the built-in scheme under them; a token left out keeps its value. */
export interface EmbanTheme {
  primaryColor?: string;
  backgroundColor?: string;
  cardBackground?: string;
  cardBorder?: string;
  textColor?: string;
  mutedColor?: string;
  /** Beyond the reference: the built-in scheme under the colours (and of native controls); any other value throws. */
  colorScheme?: 'light' | 'dark';
}

/** An inclusive numeric range; an end left out is open. */
export interface EmbanNumericRange {
  min?: number;
  max?: number;
}

/** A range of days (`YYYY-MM-DD` or RFC 3339); an end left out is open. */
export interface EmbanDateRange {
  from?: string;
  to?: string;
}

/** The payload of `setFilters`; a key left out keeps its current value. Other keys throw. */
export interface EmbanFilters {
  /** `1h`, `24h`, `7d`, `30d` or `90d`. */
  period?: string;
  /** Dimension → exact value; replaces the editable dimension filters (locked ones stay). */
  dimensions?: Record<string, string>;
  numericRanges?: Record<string, EmbanNumericRange>;
  dateRanges?: Record<string, EmbanDateRange>;
}

/** The filter state the runtime reports (`filter` event, `getState()`). */
export interface EmbanState {
  period: string;
  /** Every active dimension filter, locked ones included. */
  filters: Record<string, string>;
  numericRanges: Record<string, EmbanNumericRange>;
  dateRanges: Record<string, EmbanDateRange>;
}

/** Stable codes of `error` events. */
export type EmbanErrorCode =
  | 'session_expired'
  | 'not_published'
  | 'load_failed'
  | 'query_failed'
  | 'filter_refused'
  | 'invalid_theme'
  | 'invalid_command';

/** The session's effective permissions, as `ready` announces them. */
export interface EmbanPermissions {
  allow_drill_down: boolean;
  locked_filters: Record<string, string>;
  hidden_widgets: string[];
  allowed_dimensions?: string[] | null;
  allowed_periods?: string[] | null;
  max_date_range_days?: number | null;
}

interface EmbanMessage<T extends string> {
  _emban: true;
  type: T;
  /** Set on the event that answers a command the helper sent (see `docs/embed-runtime.md`). */
  requestId?: string;
}

export interface EmbanReadyEvent extends EmbanMessage<'ready'> {
  dashboardId: string;
  version?: number;
  commands?: string[];
  permissions?: EmbanPermissions;
}
export interface EmbanResizeEvent extends EmbanMessage<'resize'> {
  /** Content height in CSS pixels. */
  height: number;
}
export interface EmbanFilterEvent extends EmbanMessage<'filter'>, EmbanState {}
export interface EmbanPeriodChangeEvent extends EmbanMessage<'period-change'> {
  previousPeriod: string;
  period: string;
}
export interface EmbanDrillEvent extends EmbanMessage<'drill'> {
  dimension: string;
  value: string;
  action: 'apply' | 'clear' | 'detail';
}
export interface EmbanErrorEvent extends EmbanMessage<'error'> {
  message: string;
  code?: EmbanErrorCode;
  /** Whether the same session can recover (false for `session_expired`, `not_published`). */
  recoverable?: boolean;
}
/** The answer to a `setTheme` the helper sent: every token in effect. */
export interface EmbanThemeEvent extends EmbanMessage<'theme'> {
  theme: EmbanTheme;
}
/** Beyond the reference: the viewer exported a widget, or (`widgetId: null`) the whole dashboard; posted after the file was made. */
export interface EmbanExportEvent extends EmbanMessage<'export'> {
  widgetId: string | null;
  format: 'csv' | 'svg' | 'png';
}
/** Helper-only: a new signed URL is live (after `setEmbedUrl` or a `fetchEmbedUrl` refresh). */
export interface EmbanSessionSwappedEvent {
  type: 'session-swapped';
  dashboardId: string;
  /** The embed's origin. */
  origin: string;
}
/** Helper-only: posted right before `fetchEmbedUrl` is called. */
export interface EmbanSessionExpiringEvent {
  type: 'session-expiring';
  /** When the token expires: milliseconds since the Unix epoch, like `Date.now()` (whole seconds: the token's `exp`). */
  expiresAt: number;
}

/** Every event, by name. */
export interface EmbanEventMap {
  ready: EmbanReadyEvent;
  resize: EmbanResizeEvent;
  filter: EmbanFilterEvent;
  'period-change': EmbanPeriodChangeEvent;
  drill: EmbanDrillEvent;
  error: EmbanErrorEvent;
  theme: EmbanThemeEvent;
  export: EmbanExportEvent;
  'session-swapped': EmbanSessionSwappedEvent;
  'session-expiring': EmbanSessionExpiringEvent;
}
export type EmbanEventName = keyof EmbanEventMap;
/** Any event: a union discriminated by `type`. */
export type EmbanEvent = EmbanEventMap[EmbanEventName];

/** Options of `EmbanEmbed.mount`. */
export interface EmbanMountOptions {
  /** The signed `embed_url` your backend got from `POST /v1/embed-sessions`. */
  embedUrl: string;
  /** Size the iframe from the embed's `resize` events (default `true`). */
  autoResize?: boolean;
  /** The iframe never gets shorter than this many CSS pixels. */
  minHeight?: number;
  /** Applied once the embed is ready. */
  theme?: EmbanTheme;
  /** Applied once the embed is ready. */
  filters?: EmbanFilters;
  /** The iframe's accessible title (default "Emban dashboard"). */
  title?: string;
  /** Returns a fresh signed URL; called ahead of the token's expiry, retried with backoff. */
  fetchEmbedUrl?: () => string | Promise<string>;
  /** `ready` rejects (code `timeout`) when the embed is not ready after this many ms (default 30000). */
  readyTimeout?: number;
}

/** Why a promise of the helper rejected. */
export class EmbanError extends Error {
  name: 'EmbanError';
  /** The runtime's error code, `timeout` (no `ready` in time) or `destroyed`. */
  code: EmbanErrorCode | 'timeout' | 'destroyed' | 'error';
  recoverable: boolean;
  /** The runtime's `error` event, when one caused this. */
  event?: EmbanErrorEvent;
}

/** A signed Emban dashboard mounted in an iframe, and the commands and events around it. */
export class EmbanEmbed {
  private constructor();
  /**
   * Mounts the signed embed URL in a new iframe inside `container` (an element or a CSS
   * selector). Throws on a missing container, a bad URL or bad options. The embed stays alive
   * until `destroy()` or until its iframe leaves the document, whether or not this object is kept.
   */
  static mount(container: Element | string, options: EmbanMountOptions): EmbanEmbed;
  /** Instantiates the wasm once (done on import in a browser); resolves with `EmbanEmbed`. */
  static load(): Promise<typeof EmbanEmbed>;
  /** Resolves with the first `ready`; rejects with an `EmbanError` on a fatal error, a timeout or `destroy()`. */
  readonly ready: Promise<EmbanReadyEvent>;
  /** The iframe this embed owns (the same element across `setEmbedUrl`). */
  readonly iframe: HTMLIFrameElement;
  /** The origin commands are posted to and events accepted from. */
  readonly origin: string;
  /** Resolves with the `filter` event that shows it applied; rejects with the refusal (`filter_refused`). */
  setFilters(filters: EmbanFilters): Promise<EmbanFilterEvent>;
  /** Resolves with the `theme` event (every token in effect); rejects with `invalid_theme`. */
  setTheme(theme: EmbanTheme): Promise<EmbanThemeEvent>;
  /** Resolves with the `filter` event after the reload. */
  reload(): Promise<EmbanFilterEvent>;
  /** Swaps in a freshly signed URL in the same iframe; the viewer's state follows. */
  setEmbedUrl(url: string): Promise<EmbanSessionSwappedEvent>;
  /** Changes the iframe's least height (CSS pixels). */
  setMinHeight(minHeight: number): void;
  /** The last state the runtime reported, or `null` before the first. */
  getState(): EmbanState | null;
  /** Calls `callback` for every event of `type`; returns a function that unsubscribes. */
  on<K extends EmbanEventName>(type: K, callback: (event: EmbanEventMap[K]) => void): () => void;
  /** Removes `callback` from `type` (every callback of `type` when none is given). */
  off<K extends EmbanEventName>(type: K, callback?: (event: EmbanEventMap[K]) => void): void;
  /** Resolves with the next event of `type`; rejects if the embed is destroyed first. */
  once<K extends EmbanEventName>(type: K): Promise<EmbanEventMap[K]>;
  /** Removes the iframe and every listener; pending promises reject; later calls throw. */
  destroy(): void;
}

/** Instantiates the wasm once; resolves with `EmbanEmbed`. */
export function load(): Promise<typeof EmbanEmbed>;
