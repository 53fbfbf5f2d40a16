//! The queue in front of an events store's single writer, shared by both stores: a request
//! submits its batch and waits for the writer's answer, given only once the batch is committed.

use std::sync::Mutex;

use anyhow::anyhow;
use tokio::sync::{mpsc, oneshot};

use super::{InsertOutcome, NewEvent, StoreScope};
use crate::error::{AppError, Result};

/// Batches waiting at most, before submitters wait for room.
const CAPACITY: usize = 1024;

/// One submitted batch and where its outcome goes. A store may submit its batches in a
/// prepared form of its own (`T`), built on the request's task rather than on the writer.
pub struct WriteJob<T = Vec<NewEvent>> {
    /// Whose events.
    pub scope: StoreScope,
    /// The events.
    pub events: T,
    /// Answered by the writer after the commit (or its failure).
    pub reply: oneshot::Sender<Result<InsertOutcome>>,
}

/// The submitting side; the writer owns the receiver.
pub struct WriteQueue<T = Vec<NewEvent>>(Mutex<Option<mpsc::Sender<WriteJob<T>>>>);

impl<T> WriteQueue<T> {
    /// A queue and the receiver its writer drains.
    pub fn new() -> (Self, mpsc::Receiver<WriteJob<T>>) {
        let (jobs, rx) = mpsc::channel(CAPACITY);
        (WriteQueue(Mutex::new(Some(jobs))), rx)
    }

    /// Submits a batch and waits for its outcome.
    pub async fn submit(&self, scope: StoreScope, events: T) -> Result<InsertOutcome> {
        let (reply, answer) = oneshot::channel();
        let jobs = self.0.lock().ok().and_then(|j| j.clone());
        let jobs = jobs.ok_or_else(|| AppError::Internal(anyhow!("events store is closed")))?;
        jobs.send(WriteJob { scope, events, reply })
            .await
            .map_err(|_| AppError::Internal(anyhow!("events writer has stopped")))?;
        answer.await.map_err(|_| AppError::Internal(anyhow!("events writer dropped the batch")))?
    }

    /// Refuses new batches; the writer finishes those already queued, then stops.
    pub fn close(&self) {
        drop(self.0.lock().ok().and_then(|mut j| j.take()));
    }
}
