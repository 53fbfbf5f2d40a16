// One HTTP exchange with retries: network errors, timeouts, 429 (after `Retry-After`) and 5xx
// are retried with exponential backoff and jitter; every other 4xx fails at once.

import {
  EmbanConnectionError,
  EmbanError,
  EmbanRateLimitError,
  errorFromResponse,
} from './errors.js';
import { uuidv7 } from './uuid.js';

/** The SDK's version, sent in `User-Agent`. */
export const SDK_VERSION = '0.1.0';

/** How requests are sent and retried. */
export interface TransportOptions {
  apiKey: string;
  baseUrl: string;
  /** Retries after the first attempt (so `maxRetries + 1` attempts at most). */
  maxRetries: number;
  /** Per-attempt timeout. */
  timeoutMs: number;
  /** First backoff delay; doubled per retry, with jitter. */
  retryBaseMs: number;
  /** Longest backoff delay, and longest `Retry-After` honoured; a longer wait fails at once. */
  retryMaxMs: number;
  /** `fetch` to use; `globalThis.fetch` (looked up per request) when absent. */
  fetch: typeof fetch | undefined;
}

/** One request. */
export interface RequestSpec {
  method: string;
  /** Path with the query string, e.g. `/v1/query?tenant_id=acme`. */
  path: string;
  /** JSON body (already in wire form). */
  body?: unknown;
  /** A pre-serialized JSON body (ingest measures its batches in bytes). */
  rawBody?: string;
}

const RETRYABLE_STATUS = (status: number): boolean => status === 429 || status >= 500;

/** `Retry-After` in seconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000);
}

/** The delay before retry number `retry` (0-based): `base * 2^retry`, capped, with "equal jitter" (half fixed, half random). */
export function backoffMs(retry: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** retry);
  return ceiling / 2 + random() * (ceiling / 2);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends requests to one server with one key. */
export class Transport {
  /** Everything but the key. */
  readonly options: Omit<TransportOptions, 'apiKey'>;
  /** A private field, so logging or inspecting a client never shows the key. */
  readonly #apiKey: string;

  constructor({ apiKey, ...options }: TransportOptions) {
    this.options = options;
    this.#apiKey = apiKey;
  }

  /** Sends `spec`, retrying as configured; resolves with the parsed JSON body (`undefined` for 204). */
  async request(spec: RequestSpec): Promise<unknown> {
    const requestId = uuidv7();
    const { maxRetries, retryBaseMs, retryMaxMs } = this.options;
    for (let attempt = 0; ; attempt++) {
      let waitMs: number | undefined;
      try {
        return await this.attempt(spec, requestId);
      } catch (e) {
        if (!(e instanceof EmbanError)) throw e;
        const retryable = e instanceof EmbanConnectionError || (e.status !== undefined && RETRYABLE_STATUS(e.status));
        if (!retryable || attempt >= maxRetries) throw e;
        if (e instanceof EmbanRateLimitError && e.retryAfter !== undefined) {
          waitMs = e.retryAfter * 1000;
          if (waitMs > retryMaxMs) throw e; // the server asks for longer than we may wait
        }
      }
      await sleep(waitMs ?? backoffMs(attempt, retryBaseMs, retryMaxMs));
    }
  }

  private async attempt(spec: RequestSpec, requestId: string): Promise<unknown> {
    const doFetch = this.options.fetch ?? globalThis.fetch;
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.#apiKey}`,
      Accept: 'application/json',
      'User-Agent': `emban-sdk-node/${SDK_VERSION}`,
      'X-Request-Id': requestId,
    };
    let body: string | undefined = spec.rawBody;
    if (body === undefined && spec.body !== undefined) body = JSON.stringify(spec.body);
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const url = this.options.baseUrl + spec.path;
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await doFetch(url, { method: spec.method, headers, body, signal });
      text = await response.text();
    } catch (cause) {
      const timedOut = cause instanceof Error && (cause.name === 'TimeoutError' || cause.name === 'AbortError');
      const message = timedOut
        ? `no answer from ${this.options.baseUrl} within ${this.options.timeoutMs} ms`
        : `could not reach ${this.options.baseUrl}: ${describe(cause)}`;
      throw new EmbanConnectionError(message, { code: timedOut ? 'timeout' : 'connection_failed', requestId, cause });
    }
    const answeredId = response.headers.get('x-request-id') ?? requestId;
    let parsed: unknown;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (response.ok) {
      if (text !== '' && parsed === undefined) {
        throw new EmbanError(`the server answered ${response.status} with a body that is not JSON`, {
          status: response.status,
          code: 'invalid_response',
          requestId: answeredId,
          body: text,
        });
      }
      return parsed;
    }
    throw errorFromResponse(
      response.status,
      parsed ?? (text === '' ? undefined : { error: text.slice(0, 500) }),
      answeredId,
      parseRetryAfter(response.headers.get('retry-after')),
    );
  }
}

function describe(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = (cause as { cause?: unknown }).cause;
  if (inner instanceof Error) return `${cause.message} (${(inner as { code?: string }).code ?? inner.message})`;
  return cause.message;
}
