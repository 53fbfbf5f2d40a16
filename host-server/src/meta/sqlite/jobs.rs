//! [`JobStore`] on the SQLite metadata store. Claims are one `UPDATE ... RETURNING` each, so
//! two processes on one file never hold the same job (SQLite serializes writers).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{SqliteMeta, fixed_time};
use crate::{
    error::{AppError, Result},
    meta::jobs::{Job, JobKind, JobStore},
};

fn kind_from(s: &str) -> Result<JobKind> {
    match s {
        "alert" => Ok(JobKind::Alert),
        "report" => Ok(JobKind::Report),
        other => Err(AppError::Internal(anyhow::anyhow!("unknown job kind {other:?} in store"))),
    }
}

#[async_trait]
impl JobStore for SqliteMeta {
    async fn schedule_job(
        &self,
        kind: JobKind,
        target_id: i64,
        org_id: i64,
        due_at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO scheduler_jobs (kind, target_id, org_id, due_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (kind, target_id) WHERE outcome IS NULL DO UPDATE SET due_at = excluded.due_at",
        )
        .bind(kind.as_str())
        .bind(target_id)
        .bind(org_id)
        .bind(fixed_time(due_at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn cancel_jobs(&self, kind: JobKind, target_id: i64, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE scheduler_jobs SET outcome = 'cancelled', finished_at = ? \
             WHERE kind = ? AND target_id = ? AND outcome IS NULL",
        )
        .bind(fixed_time(now))
        .bind(kind.as_str())
        .bind(target_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn open_job_due(&self, kind: JobKind, target_id: i64) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query(
            "SELECT due_at FROM scheduler_jobs WHERE kind = ? AND target_id = ? AND outcome IS NULL",
        )
        .bind(kind.as_str())
        .bind(target_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("due_at")).transpose()?)
    }

    async fn claim_jobs(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Job>> {
        let now = fixed_time(now);
        let rows = sqlx::query(
            "UPDATE scheduler_jobs SET lease_owner = ?, lease_expires_at = ?, attempts = attempts + 1, \
             started_at = ? WHERE id IN (SELECT id FROM scheduler_jobs WHERE outcome IS NULL AND due_at <= ? \
             AND (lease_expires_at IS NULL OR lease_expires_at <= ?) ORDER BY due_at LIMIT ?) \
             RETURNING id, kind, target_id, org_id, due_at, attempts",
        )
        .bind(owner)
        .bind(fixed_time(lease_until))
        .bind(&now)
        .bind(&now)
        .bind(&now)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        let mut jobs = rows
            .iter()
            .map(|r| {
                Ok(Job {
                    id: r.try_get("id")?,
                    kind: kind_from(r.try_get("kind")?)?,
                    target_id: r.try_get("target_id")?,
                    org_id: r.try_get("org_id")?,
                    due_at: r.try_get("due_at")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        jobs.sort_by_key(|j| (j.due_at, j.id));
        Ok(jobs)
    }

    async fn finish_job(
        &self,
        id: i64,
        owner: &str,
        outcome: &str,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE scheduler_jobs SET outcome = ?, error = ?, finished_at = ?, lease_expires_at = NULL \
             WHERE id = ? AND lease_owner = ? AND outcome IS NULL",
        )
        .bind(outcome)
        .bind(error)
        .bind(fixed_time(now))
        .bind(id)
        .bind(owner)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn retry_job(&self, id: i64, owner: &str, error: &str, retry_at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE scheduler_jobs SET due_at = ?, error = ?, lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = ? AND lease_owner = ? AND outcome IS NULL",
        )
        .bind(fixed_time(retry_at))
        .bind(error)
        .bind(id)
        .bind(owner)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn prune_jobs(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM scheduler_jobs WHERE outcome IS NOT NULL AND finished_at < ?")
            .bind(fixed_time(before))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
