// Types of `@emban/embed-helper/react`.
import type { CSSProperties, ReactElement } from 'react';
import type { EmbanEmbed, EmbanFilters, EmbanMountOptions, EmbanTheme } from './index.js';

export interface EmbanEmbedFrameProps extends Omit<EmbanMountOptions, 'embedUrl'> {
  /** The signed embed URL. A new value swaps the session in place (no remount). */
  embedUrl: string;
  /** Style of the wrapper element the iframe is mounted into. */
  containerStyle?: CSSProperties;
  className?: string;
  /** A change is sent with setTheme. */
  theme?: EmbanTheme;
  /** A change is sent with setFilters. */
  filters?: EmbanFilters;
  /** Every event, runtime's and helper's. */
  onEvent?: (event: any) => void;
  onReady?: (event: any) => void;
  onResize?: (event: any) => void;
  onFilter?: (event: any) => void;
  onPeriodChange?: (event: any) => void;
  onDrill?: (event: any) => void;
  onError?: (event: any) => void;
  onSessionSwapped?: (event: any) => void;
  onSessionExpiring?: (event: any) => void;
  /** Receives the helper instance once mounted (for reload() and the like). */
  onMount?: (embed: EmbanEmbed) => void;
}

export function EmbanEmbedFrame(props: EmbanEmbedFrameProps): ReactElement;
