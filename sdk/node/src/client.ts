// `EmbanClient`: one per process, configured once at boot. Every call goes through `call()`,
// which looks the route up in `ROUTES` and converts names with `wire.ts`; `forTenant()` hands
// out a handle confined to one tenant, and `middleware()` attaches a client (or a tenant
// handle) to each request.

import { EmbanError, EmbanValidationError } from './errors.js';
import { Transport } from './http.js';
import { EventQueue, type FlushResult, MAX_BATCH_BYTES, MAX_BATCH_EVENTS } from './queue.js';
import { ROUTES, type RouteName, routePath } from './routes.js';
import type {
  ApiKey,
  CreateEmbedSessionParams,
  CreatedApiKey,
  Dashboard,
  EmbedSession,
  EmbedSessionInfo,
  EventInput,
  IngestResult,
  JsonObject,
  Layout,
  Period,
  QueryParams,
  QueryResult,
  SavedQuery,
  SqlResult,
  StandaloneWidget,
  Viz,
  Widget,
  WidgetData,
  WireEvent,
} from './types.js';
import { uuidv7 } from './uuid.js';
import { fromWire, toQueryString, toWire } from './wire.js';

/** Configuration of an {@link EmbanClient}. Only `apiKey` is required. */
export interface EmbanClientOptions {
  /** An `emb_admin_…` or `emb_ingest_…` key. */
  apiKey: string | undefined;
  /** The server, e.g. `https://emban.example.com`. Default `http://127.0.0.1:8080`. */
  baseUrl?: string;
  /** Retries after a network error, timeout, 429 or 5xx. Default 3. */
  maxRetries?: number;
  /** Per-attempt timeout in milliseconds. Default 10000. */
  timeoutMs?: number;
  /** First retry delay (doubled per retry, with jitter). Default 250. */
  retryBaseMs?: number;
  /** Longest retry delay, and the longest `Retry-After` waited for. Default 30000. */
  retryMaxMs?: number;
  /** `track()` flushes at this many queued events. Default 1000. */
  flushAt?: number;
  /** `track()` flushes at this many bytes of queued JSON. Default 500000. */
  flushBytes?: number;
  /** `track()` flushes this long after the first queued event. Default 5000. */
  flushIntervalMs?: number;
  /** Most events `track()` holds; more are refused and reported through `onError`. Default 10000. */
  maxQueueSize?: number;
  /** Receives background failures: undelivered batches (`EmbanDeliveryError`) and refused events (`EmbanQueueError`). Default: `console.error`. */
  onError?: (error: EmbanError) => void;
  /** `fetch` to use; the global one when absent. */
  fetch?: typeof fetch;
}

type CallOptions = {
  params?: Record<string, string | number>;
  query?: Record<string, unknown>;
  body?: unknown;
};

/** Events, queries, dashboards, embed sessions and the rest of the Emban API, for one key. */
export class EmbanClient {
  private readonly transport: Transport;
  private readonly queue: EventQueue;

  /** The server this client talks to. */
  readonly baseUrl: string;

  constructor(options: EmbanClientOptions) {
    if (typeof options?.apiKey !== 'string' || options.apiKey.trim() === '') {
      throw new TypeError('EmbanClient: apiKey is required (an emb_admin_… or emb_ingest_… key; is the environment variable set?)');
    }
    this.baseUrl = (options.baseUrl ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    const positive = (name: string, value: number | undefined, fallback: number, min = 1): number => {
      if (value === undefined) return fallback;
      if (!Number.isFinite(value) || value < min) throw new TypeError(`EmbanClient: ${name} must be a number >= ${min}`);
      return value;
    };
    this.transport = new Transport({
      apiKey: options.apiKey.trim(),
      baseUrl: this.baseUrl,
      maxRetries: positive('maxRetries', options.maxRetries, 3, 0),
      timeoutMs: positive('timeoutMs', options.timeoutMs, 10_000),
      retryBaseMs: positive('retryBaseMs', options.retryBaseMs, 250, 0),
      retryMaxMs: positive('retryMaxMs', options.retryMaxMs, 30_000, 0),
      fetch: options.fetch,
    });
    const onError = options.onError ?? ((e: EmbanError) => console.error(`[emban] ${e.message}`));
    this.queue = new EventQueue({
      flushAt: Math.min(positive('flushAt', options.flushAt, 1000), MAX_BATCH_EVENTS),
      flushBytes: Math.min(positive('flushBytes', options.flushBytes, 500_000), MAX_BATCH_BYTES),
      flushIntervalMs: positive('flushIntervalMs', options.flushIntervalMs, 5000),
      maxQueueSize: positive('maxQueueSize', options.maxQueueSize, 10_000),
      onError,
      send: (body) => this.transport.request({ method: 'POST', path: ROUTES.ingest[1], rawBody: body }),
    });
  }

  /** Calls an SDK method's route: path parameters filled, query and body converted to the wire, the answer to camelCase. */
  private async call<T>(name: RouteName, options: CallOptions = {}): Promise<T> {
    const [method, template] = ROUTES[name];
    const path = routePath(template, options.params) + toQueryString(options.query);
    const body = options.body === undefined ? undefined : toWire(options.body);
    return fromWire<T>(await this.transport.request({ method, path, body }));
  }

  // -- Events -----------------------------------------------------------------------------------

  /**
   * Sends events now (not queued); resolves once they are durable. Large arrays are split into
   * batches the server accepts. Events without an `event_id` get one (UUIDv7) first, so retries
   * never double count.
   */
  async ingest(events: EventInput[]): Promise<IngestResult> {
    return this.ingestWire(events.map((e, i) => normalizeEvent(e, `events[${i}]`, false)));
  }

  /** @internal Sends events already in wire form. */
  async ingestWire(events: WireEvent[]): Promise<IngestResult> {
    if (events.length === 0) throw new EmbanValidationError('events: give at least one event', { code: 'invalid_request', field: 'events' });
    const total: IngestResult = { accepted: 0, duplicates: 0, status: 'ok' };
    let batch: string[] = [];
    let bytes = 0;
    const send = async (): Promise<void> => {
      const answer = fromWire<IngestResult>(
        await this.transport.request({ method: 'POST', path: ROUTES.ingest[1], rawBody: `{"events":[${batch.join(',')}]}` }),
      );
      total.accepted += answer.accepted ?? 0;
      total.duplicates += answer.duplicates ?? 0;
      total.status = answer.status ?? total.status;
      batch = [];
      bytes = 0;
    };
    for (const event of events) {
      const json = JSON.stringify(event);
      const size = Buffer.byteLength(json) + 1;
      if (batch.length > 0 && (batch.length >= MAX_BATCH_EVENTS || bytes + size > MAX_BATCH_BYTES)) await send();
      batch.push(json);
      bytes += size;
    }
    await send();
    return total;
  }

  /**
   * Queues an event for the next batch (see `flushAt`, `flushBytes`, `flushIntervalMs`). Stamps
   * its `timestamp` and `event_id` now. Returns false, and reports through `onError`, when the
   * queue is full or the client is shut down. Throws `EmbanValidationError` for an event without
   * `tenant_id` or `event_name`.
   */
  track(event: EventInput): boolean {
    return this.queue.enqueue(normalizeEvent(event, 'event', true));
  }

  /** @internal Queues an event already in wire form. */
  trackWire(event: WireEvent): boolean {
    return this.queue.enqueue(event);
  }

  /** Sends every queued event; resolves when they are delivered or reported through `onError`. */
  flush(): Promise<FlushResult> {
    return this.queue.flush();
  }

  /** Stops accepting `track()` calls and delivers what is queued. Call it before the process exits. */
  shutdown(): Promise<FlushResult> {
    return this.queue.shutdown();
  }

  /** Events waiting in the `track()` queue. */
  get queued(): number {
    return this.queue.size;
  }

  /** Events `track()` refused so far (queue full, or after `shutdown()`). */
  get dropped(): number {
    return this.queue.dropped;
  }

  // -- Querying ---------------------------------------------------------------------------------

  /** Runs an analytics query (`GET /v1/query`). */
  query(params: QueryParams): Promise<QueryResult> {
    return this.call('query', { query: { ...params } });
  }

  /** Read-only SQL over the org's datasets (admin key). */
  readonly sql = {
    run: (sql: string): Promise<SqlResult> => this.call('sql.run', { body: { sql } }),
  };

  /** The datasets ad-hoc SQL can read (admin key). */
  readonly datasets = {
    list: (): Promise<{ datasets: JsonObject[] }> => this.call('datasets.list'),
    ddl: (name: string): Promise<{ name: string; ddl: string }> => this.call('datasets.ddl', { params: { name } }),
  };

  /** Saved SQL snippets. */
  readonly savedQueries = {
    list: (): Promise<SavedQuery[]> => this.call('savedQueries.list'),
    create: (query: { name: string; sql: string; dataset?: string }): Promise<SavedQuery> =>
      this.call('savedQueries.create', { body: query }),
    update: (id: number, patch: { name?: string; sql?: string; dataset?: string; starred?: boolean }): Promise<SavedQuery> =>
      this.call('savedQueries.update', { params: { id }, body: patch }),
    delete: (id: number): Promise<void> => this.call('savedQueries.delete', { params: { id } }),
  };

  // -- Dashboards and widgets -------------------------------------------------------------------

  /** Dashboards: a draft that editors change and a published snapshot that embeds show. */
  readonly dashboards = {
    list: async (): Promise<Dashboard[]> => (await this.call<{ dashboards: Dashboard[] }>('dashboards.list')).dashboards,
    get: (id: string): Promise<Dashboard> => this.call('dashboards.get', { params: { id } }),
    create: (dashboard: { name: string; widgets?: Widget[] }): Promise<Dashboard> =>
      this.call('dashboards.create', { body: dashboard }),
    update: (id: string, patch: { name?: string; widgets?: Widget[] }): Promise<Dashboard> =>
      this.call('dashboards.update', { params: { id }, body: patch }),
    delete: (id: string): Promise<void> => this.call('dashboards.delete', { params: { id } }),
    /** Publishes the draft to embeds. */
    publish: (id: string): Promise<void> => this.call('dashboards.publish', { params: { id } }),
    /** Embeds show "not published" until the next publish. */
    unpublish: (id: string): Promise<void> => this.call('dashboards.unpublish', { params: { id } }),
    /** Replaces the draft with the last published snapshot. */
    restoreDraft: (id: string): Promise<void> => this.call('dashboards.restoreDraft', { params: { id } }),
    addWidget: (id: string, widget: Widget): Promise<Widget> =>
      this.call('dashboards.addWidget', { params: { id }, body: widget }),
    updateWidget: (
      id: string,
      widgetId: string,
      patch: Partial<Omit<Widget, 'id'>>,
    ): Promise<Widget> => this.call('dashboards.updateWidget', { params: { id, widget_id: widgetId }, body: patch }),
    deleteWidget: (id: string, widgetId: string): Promise<void> =>
      this.call('dashboards.deleteWidget', { params: { id, widget_id: widgetId } }),
  };

  /** Standalone widgets, and the builder's preview. */
  readonly widgets = {
    list: async (): Promise<StandaloneWidget[]> => (await this.call<{ widgets: StandaloneWidget[] }>('widgets.list')).widgets,
    get: (id: string): Promise<StandaloneWidget> => this.call('widgets.get', { params: { id } }),
    /** The server assigns the id. */
    create: (widget: Omit<Widget, 'id' | 'layout'> & { layout?: Layout }): Promise<StandaloneWidget> =>
      this.call('widgets.create', { body: widget }),
    update: (id: string, patch: Partial<Omit<Widget, 'id'>>): Promise<StandaloneWidget> =>
      this.call('widgets.update', { params: { id }, body: patch }),
    delete: (id: string): Promise<void> => this.call('widgets.delete', { params: { id } }),
    publish: (id: string): Promise<void> => this.call('widgets.publish', { params: { id } }),
    /** Evaluates a widget config for one tenant without saving it. `filters` uses the embed filter shape (`{period, dimensions, numericRanges, dateRanges}`). */
    preview: (params: { tenantId: string; widget: Partial<Widget> & { kind: Widget['kind']; query: Widget['query']; viz?: Viz }; filters?: JsonObject }): Promise<WidgetData> =>
      this.call('widgets.preview', { body: params }),
  };

  // -- Embed sessions ---------------------------------------------------------------------------

  /** Mints a signed embed session for one tenant and dashboard (admin key); `embedUrl` goes to your frontend. */
  createEmbedSession(params: CreateEmbedSessionParams): Promise<EmbedSession> {
    return this.call('createEmbedSession', { body: params });
  }

  /** Active embed sessions of the org (admin key). */
  async listEmbedSessions(): Promise<EmbedSessionInfo[]> {
    return (await this.call<{ sessions: EmbedSessionInfo[] }>('listEmbedSessions')).sessions;
  }

  /** Revokes one embed session by its `jti` (admin key): its next data request gets 401. */
  revokeEmbedSession(jti: string): Promise<void> {
    return this.call('revokeEmbedSession', { params: { jti } });
  }

  /** Revokes every embed session of a tenant minted so far (admin key); later ones work. */
  revokeTenantEmbedSessions(tenantId: string): Promise<void> {
    return this.call('revokeTenantEmbedSessions', { query: { tenantId } });
  }

  /** The same calls, grouped. */
  readonly embedSessions = {
    create: (params: CreateEmbedSessionParams): Promise<EmbedSession> => this.createEmbedSession(params),
    list: (): Promise<EmbedSessionInfo[]> => this.listEmbedSessions(),
    revoke: (jti: string): Promise<void> => this.revokeEmbedSession(jti),
    revokeTenant: (tenantId: string): Promise<void> => this.revokeTenantEmbedSessions(tenantId),
  };

  // -- Discovery, keys, usage, audit ------------------------------------------------------------

  /** What the stored events hold, and dashboards built from it. */
  readonly discovery = {
    discover: (params: { tenantId?: string } = {}): Promise<{ events: JsonObject[]; eventsFound: number }> =>
      this.call('discovery.discover', { query: params }),
    autoCreate: (params: { name?: string } = {}): Promise<{ dashboardId: string; name: string; widgets: number; eventsFound: number }> =>
      this.call('discovery.autoCreate', { body: params }),
  };

  /** API keys (admin key). */
  readonly apiKeys = {
    list: async (): Promise<ApiKey[]> => (await this.call<{ apiKeys: ApiKey[] }>('apiKeys.list')).apiKeys,
    /** The answer's `key` is shown only this once. */
    create: (params: { label: string; scope: 'admin' | 'ingest'; environment?: string }): Promise<CreatedApiKey> =>
      this.call('apiKeys.create', { body: params }),
    revoke: (id: number): Promise<void> => this.call('apiKeys.revoke', { params: { id } }),
  };

  /** Usage counters. */
  readonly usage = {
    get: (params: { period?: Period } = {}): Promise<JsonObject> => this.call('usage.get', { query: params }),
    onboarding: (): Promise<JsonObject> => this.call('usage.onboarding'),
  };

  /** The audit log: the last 100 entries (admin key). */
  readonly audit = {
    list: async (): Promise<JsonObject[]> => (await this.call<{ entries: JsonObject[] }>('audit.list')).entries,
  };

  /** Who this key is: org, environment, scope. */
  readonly auth = {
    me: (): Promise<JsonObject> => this.call('auth.me'),
  };

  // -- Team, settings, alerts, reports, billing (the reference's routes; see PLANNED_ROUTES) ----

  /** The org's settings. */
  readonly settings = {
    getOrg: (): Promise<JsonObject> => this.call('settings.getOrg'),
    updateOrg: (patch: { name?: string; email?: string } & JsonObject): Promise<JsonObject> =>
      this.call('settings.updateOrg', { body: patch }),
    /** Irreversible (owner only). */
    deleteOrg: (): Promise<void> => this.call('settings.deleteOrg'),
  };

  /** Team members and invites. */
  readonly members = {
    list: (): Promise<JsonObject> => this.call('members.list'),
    /** The answer carries the invite link's token. */
    invite: (params: { email: string; role: 'viewer' | 'editor' | 'admin' }): Promise<JsonObject> =>
      this.call('members.invite', { body: params }),
    invites: (): Promise<JsonObject> => this.call('members.invites'),
    updateRole: (id: number | string, role: string): Promise<JsonObject> =>
      this.call('members.updateRole', { params: { id }, body: { role } }),
    remove: (id: number | string): Promise<void> => this.call('members.remove', { params: { id } }),
    /** Cancels a pending invite (an extension); its link stops working. */
    cancelInvite: (id: number | string): Promise<void> => this.call('members.cancelInvite', { params: { id } }),
  };

  /** Alert rules on widgets. */
  readonly alerts = {
    list: (): Promise<JsonObject> => this.call('alerts.list'),
    get: (id: number | string): Promise<JsonObject> => this.call('alerts.get', { params: { alert_id: id } }),
    /** Recent firing and resolution events. */
    events: (id: number | string): Promise<JsonObject> => this.call('alerts.events', { params: { alert_id: id } }),
    create: (rule: JsonObject): Promise<JsonObject> => this.call('alerts.create', { body: rule }),
    update: (id: number | string, patch: JsonObject): Promise<JsonObject> =>
      this.call('alerts.update', { params: { alert_id: id }, body: patch }),
    delete: (id: number | string): Promise<void> => this.call('alerts.delete', { params: { alert_id: id } }),
  };

  /** Scheduled reports. */
  readonly reports = {
    list: (): Promise<JsonObject> => this.call('reports.list'),
    get: (id: number | string): Promise<JsonObject> => this.call('reports.get', { params: { report_id: id } }),
    /** Recent runs with their delivery status. */
    runs: (id: number | string): Promise<JsonObject> => this.call('reports.runs', { params: { report_id: id } }),
    create: (report: JsonObject): Promise<JsonObject> => this.call('reports.create', { body: report }),
    update: (id: number | string, patch: JsonObject): Promise<JsonObject> =>
      this.call('reports.update', { params: { report_id: id }, body: patch }),
    delete: (id: number | string): Promise<void> => this.call('reports.delete', { params: { report_id: id } }),
  };

  /** Plan, limits and the Paddle handoffs. */
  readonly billing = {
    get: (): Promise<JsonObject> => this.call('billing.get'),
    plans: (): Promise<JsonObject> => this.call('billing.plans'),
    checkoutConfig: (): Promise<JsonObject> => this.call('billing.checkoutConfig'),
    portal: (): Promise<JsonObject> => this.call('billing.portal'),
  };

  /** Delivery observability of alert and report webhooks. */
  readonly webhooks = {
    deliveries: (): Promise<JsonObject> => this.call('webhooks.deliveries'),
    /** Creates or rotates the org's signing secret (`whsec_…`, shown once); the old one keeps signing for 24 h. */
    rotateSecret: (): Promise<JsonObject> => this.call('webhooks.rotateSecret', { body: {} }),
    /** Queues a signed test message to `url`. */
    test: (url: string): Promise<JsonObject> => this.call('webhooks.test', { body: { url } }),
  };

  // -- Scoping ----------------------------------------------------------------------------------

  /**
   * A handle confined to one tenant: its events are stamped with `tenantId` (an event naming
   * another tenant is refused), and its queries, previews, discovery and embed sessions cover
   * that tenant only. Cheap: make one per request. It shares this client's queue and connection.
   */
  forTenant(tenantId: string): TenantClient {
    return new TenantClient(this, tenantId);
  }

  /**
   * Connect/Express middleware that sets `req.emban`: this client, or with `tenantFrom` the
   * handle for the request's tenant. A `tenantFrom` that throws or returns no tenant passes an
   * `EmbanValidationError` to `next`.
   */
  middleware(options: MiddlewareOptions = {}): (req: any, res: unknown, next: (err?: unknown) => void) => void {
    const { tenantFrom } = options;
    return (req, _res, next) => {
      if (!tenantFrom) {
        req.emban = this;
        next();
        return;
      }
      Promise.resolve()
        .then(() => tenantFrom(req))
        .then(
          (tenant) => {
            if (typeof tenant !== 'string' || tenant === '') {
              throw new EmbanValidationError('tenantFrom: no tenant for this request', { code: 'no_tenant', field: 'tenantId' });
            }
            req.emban = this.forTenant(tenant);
            next();
          },
        )
        .catch((e: unknown) => next(e));
    };
  }
}

/** Options of {@link EmbanClient.middleware}. */
export interface MiddlewareOptions {
  /** The request's tenant (e.g. `req.user.orgId`); may be async. */
  tenantFrom?: (req: any) => string | undefined | null | Promise<string | undefined | null>;
}

/** Parameters of a tenant handle's calls: the tenant is implied. */
type Scoped<T extends { tenantId: string }> = Omit<T, 'tenantId'> & { tenantId?: string };

/** A handle confined to one tenant, from {@link EmbanClient.forTenant}. */
export class TenantClient {
  /** The tenant every call is confined to. */
  readonly tenantId: string;
  /** The unscoped client (server-trusted: use deliberately). */
  readonly client: EmbanClient;

  constructor(client: EmbanClient, tenantId: string) {
    // The server's one tenant rule (contract/src/events.rs `check_tenant_id`).
    if (typeof tenantId !== 'string' || tenantId.trim() === '' || [...tenantId].length > 200 || /\p{Cc}/u.test(tenantId)) {
      throw new EmbanValidationError(
        'tenantId: must be 1 to 200 characters, not only whitespace, without control characters',
        { code: 'invalid_request', field: 'tenantId' },
      );
    }
    this.client = client;
    this.tenantId = tenantId;
  }

  /** `value` when it is absent or this tenant; otherwise an `EmbanValidationError` naming `field`. */
  private confine(value: string | undefined, field: string): string {
    if (value !== undefined && value !== this.tenantId) {
      throw new EmbanValidationError(
        `${field}: ${JSON.stringify(value)} is another tenant; this handle is confined to ${JSON.stringify(this.tenantId)}`,
        { code: 'tenant_mismatch', field },
      );
    }
    return this.tenantId;
  }

  private stamp(event: EventInput, field: string): EventInput {
    const given = event.tenant_id ?? event.tenantId;
    const { tenantId: _camel, ...rest } = event;
    return { ...rest, tenant_id: this.confine(given, `${field}.tenant_id`) };
  }

  /** `ingest()` with every event stamped with this tenant; an event naming another is refused (nothing is sent). */
  async ingest(events: EventInput[]): Promise<IngestResult> {
    const wire = events.map((e, i) => normalizeEvent(this.stamp(e, `events[${i}]`), `events[${i}]`, false));
    return this.client.ingestWire(wire);
  }

  /** `track()` for this tenant; throws `EmbanValidationError` for an event naming another tenant. */
  track(event: EventInput): boolean {
    return this.client.trackWire(normalizeEvent(this.stamp(event, 'event'), 'event', true));
  }

  /** Flushes the shared queue. */
  flush(): Promise<FlushResult> {
    return this.client.flush();
  }

  /** A query over this tenant's events only. */
  async query(params: Scoped<QueryParams>): Promise<QueryResult> {
    return this.client.query({ ...params, tenantId: this.confine(params.tenantId, 'tenantId') });
  }

  /** An embed session bound to this tenant. */
  async createEmbedSession(params: Scoped<CreateEmbedSessionParams>): Promise<EmbedSession> {
    return this.client.createEmbedSession({ ...params, tenantId: this.confine(params.tenantId, 'tenantId') });
  }

  /** This tenant's active embed sessions. */
  async listEmbedSessions(): Promise<EmbedSessionInfo[]> {
    return (await this.client.listEmbedSessions()).filter((s) => s.tenantId === this.tenantId);
  }

  /** A widget preview over this tenant's events. */
  async previewWidget(params: Scoped<Parameters<EmbanClient['widgets']['preview']>[0]>): Promise<WidgetData> {
    return this.client.widgets.preview({ ...params, tenantId: this.confine(params.tenantId, 'tenantId') });
  }

  /** What this tenant's events hold. */
  discover(): Promise<{ events: JsonObject[]; eventsFound: number }> {
    return this.client.discovery.discover({ tenantId: this.tenantId });
  }
}

/** An event in wire form, checked and completed: `event_id` minted when absent, `timestamp` stamped when `stampTime`. */
function normalizeEvent(input: EventInput, field: string, stampTime: boolean): WireEvent {
  if (input === null || typeof input !== 'object') {
    throw new EmbanValidationError(`${field}: must be an object`, { code: 'invalid_request', field });
  }
  const wire = toWire(input) as Record<string, unknown>;
  for (const name of ['tenant_id', 'event_name']) {
    const value = wire[name];
    if (typeof value !== 'string' || value === '') {
      throw new EmbanValidationError(`${field}.${name}: required, a non-empty string`, { code: 'invalid_request', field: `${field}.${name}` });
    }
  }
  if (wire.timestamp instanceof Date) wire.timestamp = wire.timestamp.toISOString();
  if (wire.timestamp === undefined && stampTime) wire.timestamp = new Date().toISOString();
  if (wire.event_id === undefined || wire.event_id === null || wire.event_id === '') wire.event_id = uuidv7();
  return wire as unknown as WireEvent;
}
