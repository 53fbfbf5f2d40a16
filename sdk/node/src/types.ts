// The SDK's request and response shapes, in camelCase (the wire is snake_case; `wire.ts` maps
// between them). Mirrors the server's `contract` crate.

/** What a query computes. */
export type Metric = 'count' | 'count_unique' | 'count_unique_approx' | 'sum' | 'avg' | 'p95' | 'p99';
/** The window a query covers, ending now. */
export type Period = '1h' | '24h' | '7d' | '30d' | '90d';
/** Width of a time-series bucket. */
export type Granularity = 'hour' | 'day' | 'week' | 'month';

/**
 * One product event. The wire's snake_case names (as in the guide) and camelCase both work.
 * `event_id` is minted (UUIDv7) when absent, so a retried batch never double counts.
 */
export interface EventInput {
  tenant_id?: string;
  tenantId?: string;
  event_name?: string;
  eventName?: string;
  /** ISO 8601 or a `Date`; `track()` stamps the time of the call, `ingest()` leaves it to the server. */
  timestamp?: string | Date;
  event_id?: string;
  eventId?: string;
  user_id?: string;
  userId?: string;
  string_props?: Record<string, string>;
  stringProps?: Record<string, string>;
  numeric_props?: Record<string, number>;
  numericProps?: Record<string, number>;
}

/** An event as sent: wire names, `event_id` filled in. */
export interface WireEvent {
  tenant_id: string;
  event_name: string;
  event_id: string;
  timestamp?: string;
  user_id?: string;
  string_props?: Record<string, string>;
  numeric_props?: Record<string, number>;
}

/** The answer to `ingest()`: summed over the requests it took. */
export interface IngestResult {
  /** Events newly stored. */
  accepted: number;
  /** Events skipped because their `event_id` was already stored. */
  duplicates: number;
  /** `ok`. */
  status: string;
}

/** Parameters of `query()`. */
export interface QueryParams {
  tenantId: string;
  eventName: string;
  metric: Metric;
  period: Period;
  granularity?: Granularity;
  groupBy?: string;
  /** Required for `sum`, `avg`, `p95`, `p99`. */
  numericProp?: string;
  /** Exact-match string prop filters, sent as `f_<prop>=<value>`. */
  filters?: Record<string, string>;
}

/** One row of a query answer. */
export interface QueryRow {
  bucket?: string;
  group?: string | null;
  value: number | null;
}

/** How a query ran. */
export interface QueryMeta {
  queryTimeMs: number;
  rowsScanned: number;
  eventName: string;
  metric: Metric;
  period: Period;
  sourceTable: string;
  plannedBy: string;
  rollupGranularity?: string;
  granularity?: Granularity;
  groupBy?: string;
  from: string;
  to: string;
  groupsTruncated: boolean;
}

/** The answer to `query()`. */
export interface QueryResult {
  data: QueryRow[];
  meta: QueryMeta;
}

/** What an embed viewer may see and do; every field is enforced by the server. */
export interface EmbedPermissions {
  allowDrillDown?: boolean;
  /** `{dimension: value}` always applied (values are yours: sent as given). */
  lockedFilters?: Record<string, string>;
  hiddenWidgets?: string[];
  allowedDimensions?: string[];
  allowedPeriods?: Period[];
  maxDateRangeDays?: number;
}

/** Parameters of `createEmbedSession()`. */
export interface CreateEmbedSessionParams {
  tenantId: string;
  dashboardId: string;
  /** Lifetime in seconds, 60 to 86400; 3600 when absent. */
  expiresIn?: number;
  permissions?: EmbedPermissions;
  /** Host page origins allowed to frame the embed. */
  allowedOrigins?: string[];
  /** BCP 47 tag, e.g. `en-US`. */
  locale?: string;
}

/** A signed embed session. */
export interface EmbedSession {
  /** The signed token (JWT). */
  token: string;
  /** Ready for an iframe `src`. */
  embedUrl: string;
  /** RFC 3339. */
  expiresAt: string;
}

/** One active embed session, from the audit log. */
export interface EmbedSessionInfo {
  jti: string;
  tenantId: string;
  dashboardId: string;
  resource: string;
  scope: unknown;
  origins: string[] | null;
  actor: string;
  issuedAt: string;
  expiresAt: string;
  remainingTtlSeconds: number;
}

/** The query a widget runs. */
export interface WidgetQuery {
  eventName: string;
  metric: Metric;
  numericProp?: string;
  granularity?: Granularity;
  groupBy?: string;
  filters?: Record<string, string>;
  limit?: number;
}

/** How a widget is drawn: a `type` plus free-form options (sent as given). */
export interface Viz {
  type: 'line' | 'area' | 'bar' | 'pie' | 'number' | 'table';
  [option: string]: unknown;
}

/** Position on the 12-column grid. */
export interface Layout {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** One widget. */
export interface Widget {
  id: string;
  kind: 'metric' | 'timeseries' | 'breakdown' | 'table';
  title: string;
  query: WidgetQuery;
  viz: Viz;
  layout: Layout;
}

/** A dashboard. */
export interface Dashboard {
  id: string;
  name: string;
  config: { widgets: Widget[] };
  published: boolean;
  publishedConfig: { widgets: Widget[] } | null;
  publishedAt: string | null;
  hasUnpublishedChanges: boolean;
  createdAt: string;
  updatedAt: string;
}

/** A standalone widget with its draft and published snapshot. */
export interface StandaloneWidget {
  id: string;
  widget: Widget;
  published: Widget | null;
  publishedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A widget's evaluated data. */
export interface WidgetData {
  widgetId: string;
  kind: Widget['kind'];
  data: QueryRow[];
  meta: QueryMeta;
  previous?: { value: number | null; from: string; to: string };
  change?: number | null;
}

/** An API key as listed (the secret is never listed). */
export interface ApiKey {
  id: number;
  label: string;
  scope: 'admin' | 'ingest';
  prefix: string;
  environment: string;
  createdAt: string;
  lastUsedAt?: string | null;
  revokedAt?: string | null;
  [field: string]: unknown;
}

/** A key just created: `key` is shown this once. */
export interface CreatedApiKey extends ApiKey {
  key: string;
}

/** A saved SQL query. */
export interface SavedQuery {
  id: number;
  name: string;
  sql: string;
  dataset: string;
  starred: boolean;
  [field: string]: unknown;
}

/** The answer to `sql.run()`. */
export interface SqlResult {
  columns: { name: string; type: string }[];
  rows: unknown[][];
  stats: { wallMs: number; rowsReturned: number; truncated: boolean };
}

/** Any JSON object the SDK passes through with camelCase keys. */
export type JsonObject = Record<string, unknown>;
