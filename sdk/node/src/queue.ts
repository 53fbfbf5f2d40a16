// The `track()` queue: events wait here and go out in batches, at `flushAt` events, at
// `flushBytes` of JSON or `flushIntervalMs` after the first queued event, whichever comes first.
// The queue is bounded: an event beyond `maxQueueSize` (or after `shutdown()`) is counted and
// reported through `onError`, never dropped silently. A batch that fails after the retries is
// reported with its events (`EmbanDeliveryError.events`).

import { EmbanDeliveryError, EmbanError, EmbanQueueError } from './errors.js';
import type { WireEvent } from './types.js';

/** Server limits on one `POST /v1/events`. */
export const MAX_BATCH_EVENTS = 10_000;
/** 10 MiB body limit, less headroom for the envelope. */
export const MAX_BATCH_BYTES = 10 * 1024 * 1024 - 1024;

/** How the queue flushes. */
export interface QueueOptions {
  flushAt: number;
  flushBytes: number;
  flushIntervalMs: number;
  maxQueueSize: number;
  onError: (error: EmbanError) => void;
  /** Sends one batch (a JSON body already serialized). */
  send: (body: string, count: number) => Promise<unknown>;
}

/** What a flush delivered. */
export interface FlushResult {
  /** Events delivered (stored or recognized as duplicates). */
  sent: number;
  /** Events that failed after the retries (reported through `onError`). */
  failed: number;
}

interface Queued {
  event: WireEvent;
  json: string;
  /** Bytes of `json` plus its comma. */
  size: number;
}

const ENVELOPE_BYTES = '{"events":[]}'.length;

/** The batching queue behind `track()`. */
export class EventQueue {
  private readonly options: QueueOptions;
  private items: Queued[] = [];
  private bytes = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private chain: Promise<FlushResult> = Promise.resolve({ sent: 0, failed: 0 });
  private draining = false;
  private closed = false;
  /** Events refused so far (queue full or after shutdown). */
  dropped = 0;

  constructor(options: QueueOptions) {
    this.options = options;
  }

  /** Events waiting. */
  get size(): number {
    return this.items.length;
  }

  /** Queues one event; false (and an `onError` report) when it could not be queued. */
  enqueue(event: WireEvent): boolean {
    if (this.closed || this.items.length >= this.options.maxQueueSize) {
      this.dropped += 1;
      const why = this.closed
        ? 'the client is shut down'
        : `the queue is full (${this.options.maxQueueSize} events waiting)`;
      this.options.onError(
        new EmbanQueueError(`event dropped: ${why}; ${this.dropped} dropped so far`, {
          code: this.closed ? 'client_closed' : 'queue_full',
          dropped: 1,
          droppedTotal: this.dropped,
        }),
      );
      return false;
    }
    const json = JSON.stringify(event);
    const size = Buffer.byteLength(json) + 1;
    this.items.push({ event, json, size });
    this.bytes += size;
    if (this.items.length >= this.options.flushAt || this.bytes + ENVELOPE_BYTES >= this.options.flushBytes) {
      if (!this.draining) void this.flush();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.options.flushIntervalMs);
    }
    return true;
  }

  /** Sends everything queued now; resolves once it is delivered or reported. Never rejects. */
  flush(): Promise<FlushResult> {
    this.chain = this.chain.then(() => this.drain());
    return this.chain;
  }

  /** Refuses new events, then flushes what is queued. */
  async shutdown(): Promise<FlushResult> {
    this.closed = true;
    return this.flush();
  }

  private async drain(): Promise<FlushResult> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.draining = true;
    const result: FlushResult = { sent: 0, failed: 0 };
    try {
      while (this.items.length > 0) {
        const batch = this.takeBatch();
        const body = `{"events":[${batch.map((q) => q.json).join(',')}]}`;
        try {
          await this.options.send(body, batch.length);
          result.sent += batch.length;
        } catch (e) {
          result.failed += batch.length;
          const cause = e instanceof EmbanError ? e : new EmbanError(String(e), { cause: e });
          this.options.onError(new EmbanDeliveryError(cause, batch.map((q) => ({ ...q.event }))));
        }
      }
    } finally {
      this.draining = false;
    }
    return result;
  }

  /** The oldest events that fit one batch: at most `flushAt` events and `flushBytes` (at least one event). */
  private takeBatch(): Queued[] {
    const maxEvents = Math.min(this.options.flushAt, MAX_BATCH_EVENTS);
    const maxBytes = Math.min(this.options.flushBytes, MAX_BATCH_BYTES);
    let count = 0;
    let bytes = ENVELOPE_BYTES;
    for (const q of this.items) {
      if (count > 0 && (count >= maxEvents || bytes + q.size > maxBytes)) break;
      count += 1;
      bytes += q.size;
    }
    const batch = this.items.splice(0, count);
    this.bytes -= bytes - ENVELOPE_BYTES;
    return batch;
  }
}
