// Types of `@emban/embed-helper/react`.
import type { CSSProperties, ForwardRefExoticComponent, RefAttributes } from 'react';
import type {
  EmbanDrillEvent,
  EmbanEmbed,
  EmbanErrorEvent,
  EmbanEvent,
  EmbanExportEvent,
  EmbanFilterEvent,
  EmbanFilters,
  EmbanPeriodChangeEvent,
  EmbanReadyEvent,
  EmbanResizeEvent,
  EmbanSessionExpiringEvent,
  EmbanSessionSwappedEvent,
  EmbanTheme,
  EmbanThemeEvent,
} from './index.js';

export interface EmbanEmbedFrameProps {
  /**
   * The signed embed URL. Empty (`null`, `undefined`, `''`) renders the container only; the
   * frame mounts when a URL arrives. A new value swaps the session in place (no remount); the
   * viewer's filters follow. Clearing it later keeps the current session.
   */
  embedUrl?: string | null;
  /** Style of the wrapper element the iframe is mounted into (live). */
  containerStyle?: CSSProperties;
  /** Class of the wrapper element (live). */
  className?: string;
  /** Live: a change is sent with setTheme. */
  theme?: EmbanTheme;
  /** Live: a change is sent with setFilters. */
  filters?: EmbanFilters;
  /** Live: the iframe's least height in CSS pixels. */
  minHeight?: number;
  /** Live: the iframe's accessible title (default "Emban dashboard"). */
  title?: string;
  /** Mount-only: size the iframe from `resize` events (default true). */
  autoResize?: boolean;
  /** Mount-only: `ready` rejects after this many ms without one (default 30000). */
  readyTimeout?: number;
  /** Live (the latest function is called): returns a fresh signed URL ahead of the token's expiry. */
  fetchEmbedUrl?: () => string | Promise<string>;
  /** Every event, runtime's and helper's (live, like every callback prop). */
  onEvent?: (event: EmbanEvent) => void;
  onReady?: (event: EmbanReadyEvent) => void;
  onResize?: (event: EmbanResizeEvent) => void;
  onFilter?: (event: EmbanFilterEvent) => void;
  onPeriodChange?: (event: EmbanPeriodChangeEvent) => void;
  onDrill?: (event: EmbanDrillEvent) => void;
  onError?: (event: EmbanErrorEvent) => void;
  onTheme?: (event: EmbanThemeEvent) => void;
  onExport?: (event: EmbanExportEvent) => void;
  onSessionSwapped?: (event: EmbanSessionSwappedEvent) => void;
  onSessionExpiring?: (event: EmbanSessionExpiringEvent) => void;
  /** Receives the live helper instance once mounted (also given to `ref`). */
  onMount?: (embed: EmbanEmbed) => void;
}

/** The helper as a client component; `ref` receives the `EmbanEmbed` instance (null until mounted). */
export const EmbanEmbedFrame: ForwardRefExoticComponent<EmbanEmbedFrameProps & RefAttributes<EmbanEmbed | null>>;
