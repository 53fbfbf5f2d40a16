// Typed errors: one class per outcome a caller handles differently, built from the server's
// `{"error", "code"}` envelope in one place (`errorFromResponse`).

/** What every Emban error carries. */
export interface EmbanErrorInit {
  /** HTTP status; absent when the request never got an answer. */
  status?: number;
  /** The server's stable code (`invalid_request`, `unauthorized`...) or the SDK's own. */
  code?: string;
  /** The request's id (`X-Request-Id`), the same across retries: quote it in bug reports. */
  requestId?: string;
  /** The parsed response body, when there was one. */
  body?: unknown;
  /** The underlying error (a network failure, a timeout). */
  cause?: unknown;
}

/** Base class of every error this SDK throws or reports through `onError`. */
export class EmbanError extends Error {
  /** HTTP status; absent when the request never got an answer. */
  readonly status: number | undefined;
  /** The server's stable code or the SDK's own. */
  readonly code: string | undefined;
  /** The request's id, the same across retries. */
  readonly requestId: string | undefined;
  /** The parsed response body, when there was one. */
  readonly body: unknown;

  constructor(message: string, init: EmbanErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
    this.body = init.body;
  }
}

/** 401: the API key is missing, malformed, unknown or revoked. */
export class EmbanAuthError extends EmbanError {}

/** 403: the key authenticated but its scope or role does not allow this (an ingest key on an admin route). */
export class EmbanPermissionError extends EmbanError {}

/** 404: no such resource, or not visible to this key. */
export class EmbanNotFoundError extends EmbanError {}

/** 409: the request collides with existing state (another request saved the dashboard first). */
export class EmbanConflictError extends EmbanError {}

/** 400 (and 413/415): the request is malformed; `field` names the offending field when the server does. */
export class EmbanValidationError extends EmbanError {
  /** The field the server named, e.g. `events[3].tenant_id` or `label`. */
  readonly field: string | undefined;

  constructor(message: string, init: EmbanErrorInit & { field?: string } = {}) {
    super(message, init);
    this.field = init.field ?? fieldOf(message);
  }
}

/** 402: the org hit a plan limit. */
export class EmbanPlanLimitError extends EmbanError {
  /** The org's plan, e.g. `free`. */
  readonly plan: string | undefined;
  /** The plan that lifts the limit, e.g. `starter`. */
  readonly upgradeTo: string | undefined;
  /** The limit. */
  readonly limit: number | undefined;
  /** How much of it is used. */
  readonly used: number | undefined;

  constructor(message: string, init: EmbanErrorInit) {
    super(message, init);
    const body = (init.body ?? {}) as Record<string, unknown>;
    this.plan = typeof body.plan === 'string' ? body.plan : undefined;
    this.upgradeTo = typeof body.upgrade_to === 'string' ? body.upgrade_to : undefined;
    this.limit = typeof body.limit === 'number' ? body.limit : undefined;
    this.used = typeof body.used === 'number' ? body.used : undefined;
  }
}

/** 429: rate limited, still so after the configured retries. */
export class EmbanRateLimitError extends EmbanError {
  /** Seconds the server asked to wait (`Retry-After`), when it said. */
  readonly retryAfter: number | undefined;

  constructor(message: string, init: EmbanErrorInit & { retryAfter?: number }) {
    super(message, init);
    this.retryAfter = init.retryAfter;
  }
}

/** The server could not be reached, dropped the connection or did not answer within `timeoutMs`, after the retries. */
export class EmbanConnectionError extends EmbanError {}

/** 5xx: the server failed, still so after the retries. */
export class EmbanApiError extends EmbanError {}

/** `track()` could not queue an event: the queue is full or the client is shut down. The events are counted, never silently lost. */
export class EmbanQueueError extends EmbanError {
  /** How many events this report covers. */
  readonly dropped: number;
  /** Every event dropped by this client so far. */
  readonly droppedTotal: number;

  constructor(message: string, init: EmbanErrorInit & { dropped: number; droppedTotal: number }) {
    super(message, init);
    this.dropped = init.dropped;
    this.droppedTotal = init.droppedTotal;
  }
}

/** A batch the background flush could not deliver after the retries; `events` are the undelivered events, so they can be stored elsewhere. */
export class EmbanDeliveryError extends EmbanError {
  /** The undelivered events, as they were queued (with their `event_id`s, so resending cannot double count). */
  readonly events: readonly Record<string, unknown>[];

  constructor(cause: EmbanError, events: Record<string, unknown>[]) {
    super(`${events.length} events were not delivered: ${cause.message}`, {
      status: cause.status,
      code: cause.code,
      requestId: cause.requestId,
      body: cause.body,
      cause,
    });
    this.events = events;
  }
}

/** The first `path: ` of a validation message, when it looks like a field path (`events[0].tenant_id`). */
function fieldOf(message: string): string | undefined {
  const match = /^([A-Za-z_][\w.[\]-]*):\s/.exec(message);
  return match?.[1];
}

/** Builds the error for a non-2xx answer from its status, parsed body and headers. */
export function errorFromResponse(
  status: number,
  body: unknown,
  requestId: string | undefined,
  retryAfter: number | undefined,
): EmbanError {
  const envelope = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const message =
    typeof envelope.error === 'string' && envelope.error !== '' ? envelope.error : `HTTP ${status}`;
  const code = typeof envelope.code === 'string' ? envelope.code : undefined;
  const init: EmbanErrorInit = { status, code, requestId, body };
  switch (status) {
    case 400:
    case 413:
    case 415:
    case 422:
      return new EmbanValidationError(message, init);
    case 401:
      return new EmbanAuthError(message, init);
    case 402:
      return new EmbanPlanLimitError(message, init);
    case 403:
      return new EmbanPermissionError(message, init);
    case 404:
      return new EmbanNotFoundError(message, init);
    case 409:
      return new EmbanConflictError(message, init);
    case 429:
      return new EmbanRateLimitError(message, { ...init, retryAfter });
    default:
      return status >= 500 ? new EmbanApiError(message, init) : new EmbanError(message, init);
  }
}
