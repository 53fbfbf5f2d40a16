//! The scheduler: an in-process loop that runs due alert evaluations and report runs, then the
//! webhook outbox, from durable job rows in the metadata store (`meta::jobs`).
//!
//! Rules (docs/alerts.md, "Scheduler"):
//! - A target (alert or report) has at most one open job. Finishing a job writes the next one:
//!   an alert's `--alert-interval-secs` after now, a report's next cron occurrence after now. So
//!   a run that fell due while the server was down runs once at start-up, and missed ones are
//!   not replayed one by one.
//! - A process claims due jobs by writing a lease (its owner name and an expiry, 5 minutes) in one
//!   `UPDATE`; only the lease holder may finish a job. A process that dies mid-run leaves its
//!   lease to expire, after which any process claims the job again (attempt counted). So more
//!   than one process may share one metadata database.
//! - A failed attempt is retried after 1, then 2 minutes; the third failure closes the job as
//!   `failed` and schedules the next occurrence.
//! - Under `--test-clock` the loop does not run: tests advance the clock and call [`tick`].

use std::time::Duration;

use crate::{
    alerts::evaluate::{self, Ran},
    meta::jobs::{Job, JobKind},
    outbox, reports,
    state::AppState,
};

/// How often the loop looks for due work.
pub const TICK_EVERY: Duration = Duration::from_secs(5);
/// How long a claim holds.
pub const LEASE: chrono::Duration = chrono::Duration::minutes(5);
/// Attempts of one job before it is closed as failed.
pub const MAX_ATTEMPTS: i64 = 3;
/// Jobs one tick claims at most.
const BATCH: u32 = 50;

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickSummary {
    /// Jobs run (evaluations and report runs).
    pub jobs: usize,
    /// Webhook attempts made.
    pub webhook_attempts: usize,
}

/// Starts the loop (not under a manual clock).
pub fn spawn(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    if state.clock.is_manual() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut every = tokio::time::interval(TICK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = tick(&state).await {
                tracing::warn!(error = %format!("{e:#}"), "scheduler tick failed");
            }
        }
    }))
}

/// Runs what is due now: claimed jobs one by one, then due webhook deliveries.
pub async fn tick(state: &AppState) -> anyhow::Result<TickSummary> {
    let now = state.clock.now();
    let owner = &state.scheduler_owner;
    let jobs = state.jobs.claim_jobs(owner, now, now + LEASE, BATCH).await?;
    let mut summary = TickSummary { jobs: jobs.len(), ..TickSummary::default() };
    for job in jobs {
        if let Err(e) = run_job(state, &job).await {
            tracing::warn!(job = job.id, error = %format!("{e:#}"), "scheduler job bookkeeping failed");
        }
    }
    // A message queued by a job above is due at once.
    let now = state.clock.now();
    summary.webhook_attempts =
        outbox::deliver_due(&*state.webhooks, &state.webhook_policy, owner, now).await?;
    state.jobs.prune_jobs(now - chrono::Duration::days(7)).await?;
    Ok(summary)
}

async fn run_job(state: &AppState, job: &Job) -> anyhow::Result<()> {
    let now = state.clock.now();
    let owner = &state.scheduler_owner;
    let result = match job.kind {
        JobKind::Alert => evaluate::run(state, job.target_id, now).await,
        JobKind::Report => reports::run(state, job.target_id, job.due_at, now)
            .await
            .map(|ran| if ran { Ran::Evaluated } else { Ran::Gone }),
    };
    let next = match result {
        Ok(Ran::Gone) => {
            state.jobs.finish_job(job.id, owner, "cancelled", None, now).await?;
            return Ok(());
        }
        Ok(Ran::Evaluated) => {
            if !state.jobs.finish_job(job.id, owner, "done", None, now).await? {
                return Ok(());
            }
            true
        }
        Err(e) => {
            let error = e.to_string();
            tracing::warn!(job = job.id, kind = job.kind.as_str(), target = job.target_id, error = %error, "job failed");
            if job.attempts < MAX_ATTEMPTS {
                let retry_at = now + chrono::Duration::minutes(job.attempts.max(1));
                state.jobs.retry_job(job.id, owner, &error, retry_at).await?;
                return Ok(());
            }
            state.jobs.finish_job(job.id, owner, "failed", Some(&error), now).await?
        }
    };
    if next {
        let due = match job.kind {
            JobKind::Alert => Some(now + state.alert_interval),
            JobKind::Report => reports::next_due(state, job.target_id, now).await?,
        };
        if let Some(due) = due {
            state.jobs.schedule_job(job.kind, job.target_id, job.org_id, due).await?;
        }
    }
    Ok(())
}
