//! The `track()` queue: events wait here and go out in batches at `flush_at` events, at
//! `flush_bytes` of JSON or `flush_interval` after the first queued event. Bounded: an event
//! beyond `max_queue_size` (or after `shutdown()`) is counted and reported through `on_error`,
//! never dropped silently; a batch that fails after the retries is reported with its events.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use contract::events::IngestEvent;

use crate::error::Error;

/// Server limit on events in one `POST /v1/events`.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// Server limit on the body (10 MiB), less headroom for the envelope.
pub const MAX_BATCH_BYTES: usize = 10 * 1024 * 1024 - 1024;
const ENVELOPE_BYTES: usize = r#"{"events":[]}"#.len();

/// What a flush delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushResult {
    /// Events delivered (stored, or recognized as duplicates).
    pub sent: usize,
    /// Events that failed after the retries (reported through `on_error`).
    pub failed: usize,
}

/// Receives background failures.
pub type ErrorHandler = Arc<dyn Fn(Error) + Send + Sync>;

pub(crate) struct Queued {
    pub event: IngestEvent,
    pub json: String,
}

#[derive(Default)]
pub(crate) struct Pending {
    pub items: std::collections::VecDeque<Queued>,
    pub bytes: usize,
    pub timer_armed: bool,
    /// A flush task is spawned and has not started yet: don't spawn another.
    pub flush_scheduled: bool,
}

/// Queue state shared by a client and its tenant handles.
pub(crate) struct Queue {
    pub pending: Mutex<Pending>,
    /// Held by the one flush that runs at a time.
    pub flushing: tokio::sync::Mutex<()>,
    pub closed: AtomicBool,
    pub dropped: AtomicU64,
    pub flush_at: usize,
    pub flush_bytes: usize,
    pub flush_interval: std::time::Duration,
    pub max_queue_size: usize,
    pub on_error: ErrorHandler,
}

/// What `enqueue` asks its caller to do next.
pub(crate) enum Next {
    Nothing,
    FlushNow,
    ArmTimer,
}

impl Queue {
    /// Queues an event; `Err` (also reported through `on_error`) when refused.
    pub fn enqueue(&self, event: IngestEvent) -> Result<Next, Error> {
        let refuse = |reason: &'static str| {
            let total = self.dropped.fetch_add(1, Ordering::SeqCst) + 1;
            (self.on_error)(Error::Queue { reason, dropped_total: total });
            Err(Error::Queue { reason, dropped_total: total })
        };
        if self.closed.load(Ordering::SeqCst) {
            return refuse("client_closed");
        }
        let json = serde_json::to_string(&event)
            .map_err(|source| Error::Decode { request_id: String::new(), source })?;
        let Ok(mut pending) = self.pending.lock() else { return refuse("queue_poisoned") };
        if pending.items.len() >= self.max_queue_size {
            drop(pending);
            return refuse("queue_full");
        }
        pending.bytes += json.len() + 1;
        pending.items.push_back(Queued { event, json });
        if pending.items.len() >= self.flush_at || pending.bytes + ENVELOPE_BYTES >= self.flush_bytes {
            if pending.flush_scheduled {
                return Ok(Next::Nothing);
            }
            pending.flush_scheduled = true;
            Ok(Next::FlushNow)
        } else if !pending.timer_armed {
            pending.timer_armed = true;
            Ok(Next::ArmTimer)
        } else {
            Ok(Next::Nothing)
        }
    }

    /// The oldest events that fit one batch (at least one), removed from the queue.
    pub fn take_batch(&self) -> Vec<Queued> {
        let Ok(mut pending) = self.pending.lock() else { return Vec::new() };
        let max_events = self.flush_at.min(MAX_BATCH_EVENTS);
        let max_bytes = self.flush_bytes.min(MAX_BATCH_BYTES);
        let mut count = 0;
        let mut bytes = ENVELOPE_BYTES;
        for q in &pending.items {
            let size = q.json.len() + 1;
            if count > 0 && (count >= max_events || bytes + size > max_bytes) {
                break;
            }
            count += 1;
            bytes += size;
        }
        pending.bytes = pending.bytes.saturating_sub(bytes - ENVELOPE_BYTES);
        if count == pending.items.len() {
            pending.timer_armed = false;
        }
        pending.items.drain(..count).collect()
    }

    /// Marks the scheduled flush as started, so the next threshold schedules a new one.
    pub fn flush_started(&self) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.flush_scheduled = false;
        }
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.pending.lock().map(|p| p.items.len()).unwrap_or(0)
    }
}

/// `{"events":[...]}` from already serialized events.
pub(crate) fn batch_body(batch: &[Queued]) -> Vec<u8> {
    let mut body = Vec::with_capacity(batch.iter().map(|q| q.json.len() + 1).sum::<usize>() + ENVELOPE_BYTES);
    body.extend_from_slice(br#"{"events":["#);
    for (i, q) in batch.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(q.json.as_bytes());
    }
    body.extend_from_slice(b"]}");
    body
}
