//! The embedded metadata store: one SQLite file in the data dir, WAL mode, migrations at start.

use std::{path::Path, str::FromStr, time::Duration};

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{
    Row,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous},
};

mod alerts;
mod billing;
mod dashboards;
mod jobs;
mod members;
mod org_settings;
mod reports;
mod revocations;
mod saved_queries;
mod webhooks;

use crate::{
    error::{AppError, Result},
    meta::{
        ApiKey, AuditEntry, Environment, KeyGrant, MetaStore, NewAccount, Org, Role, Scope, SessionGrant,
        UsageRow, User, billing::Capped,
    },
};

/// SQLite-backed [`MetaStore`].
pub struct SqliteMeta {
    pool: SqlitePool,
}

impl SqliteMeta {
    /// Opens (creating if needed) `path` and runs migrations.
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        let url = format!("sqlite://{}", path.display());
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        sqlx::migrate!("./migrations").run(&pool).await.context("running metadata migrations")?;
        Ok(SqliteMeta { pool })
    }

    /// The pool, for the other stores kept in the same file (`sqlite_dashboards`).
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Times the scheduler compares in SQL (due times, leases), written with a fixed width so text
/// order is time order.
pub(crate) fn fixed_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn user_from(row: &sqlx::sqlite::SqliteRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

fn parse_role(s: &str) -> Result<Role> {
    Role::parse(s).ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown role {s:?} in store")))
}

fn parse_scope(s: &str) -> Result<Scope> {
    Scope::parse(s).ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown scope {s:?} in store")))
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

const KEY_COLUMNS: &str = "k.id, k.label, k.scope, k.prefix, e.name AS environment, k.created_at, \
                           k.last_used_at, k.revoked_at";

fn key_from(row: &sqlx::sqlite::SqliteRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: row.try_get("id")?,
        label: row.try_get("label")?,
        scope: parse_scope(row.try_get("scope")?)?,
        prefix: row.try_get("prefix")?,
        environment: row.try_get("environment")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

#[async_trait]
impl MetaStore for SqliteMeta {
    async fn create_account(
        &self,
        email: &str,
        name: &str,
        password_hash: &str,
        org_name: &str,
        is_demo: bool,
    ) -> Result<NewAccount> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        let user_id = match sqlx::query(
            "INSERT INTO users (email, name, password_hash, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(email)
        .bind(name)
        .bind(password_hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        {
            Ok(done) => done.last_insert_rowid(),
            Err(e) if is_unique_violation(&e) => {
                return Err(AppError::Conflict("a user with this email is already registered".into()));
            }
            Err(e) => return Err(e.into()),
        };
        let org_id = sqlx::query(
            "INSERT INTO orgs (id, name, is_demo, created_at) VALUES (max(coalesce((SELECT max(id) FROM orgs), 0), \
             coalesce((SELECT max(id) FROM retired_org_ids), 0)) + 1, ?, ?, ?)",
        )
            .bind(org_name)
            .bind(is_demo)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .last_insert_rowid();
        sqlx::query("INSERT INTO memberships (user_id, org_id, role, created_at) VALUES (?, ?, 'owner', ?)")
            .bind(user_id)
            .bind(org_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let mut environments = Vec::new();
        for env in ["production", "development"] {
            let id = sqlx::query("INSERT INTO environments (org_id, name, created_at) VALUES (?, ?, ?)")
                .bind(org_id)
                .bind(env)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .last_insert_rowid();
            environments.push(Environment { id, name: env.to_owned() });
        }
        tx.commit().await?;
        Ok(NewAccount {
            user: User { id: user_id, email: email.to_owned(), name: name.to_owned(), created_at: now },
            org: Org { id: org_id, name: org_name.to_owned(), is_demo, created_at: now },
            environments,
        })
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>> {
        let row = sqlx::query("SELECT id, email, name, created_at, password_hash FROM users WHERE email = ?")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((user_from(&r)?, r.try_get("password_hash")?))).transpose()
    }

    async fn primary_membership(&self, user_id: i64) -> Result<Option<(i64, Role)>> {
        let row = sqlx::query(
            "SELECT org_id, role FROM memberships WHERE user_id = ? ORDER BY created_at, org_id LIMIT 1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get("org_id")?, parse_role(r.try_get("role")?)?))).transpose()
    }

    async fn org(&self, org_id: i64) -> Result<Option<Org>> {
        let row = sqlx::query("SELECT id, name, is_demo, created_at FROM orgs WHERE id = ?")
            .bind(org_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| org_from(&r)).transpose()
    }

    async fn demo_org(&self) -> Result<Option<Org>> {
        let row = sqlx::query(
            "SELECT id, name, is_demo, created_at FROM orgs WHERE is_demo = 1 ORDER BY id LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| org_from(&r)).transpose()
    }

    async fn environments(&self, org_id: i64) -> Result<Vec<Environment>> {
        let rows = sqlx::query("SELECT id, name FROM environments WHERE org_id = ? ORDER BY id")
            .bind(org_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(Environment { id: r.try_get("id")?, name: r.try_get("name")? })).collect()
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        org_id: i64,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, org_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(org_id)
        .bind(Utc::now())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session(&self, token_hash: &str) -> Result<Option<SessionGrant>> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.name, u.created_at, s.org_id, m.role, m.last_seen_at, s.expires_at \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             JOIN memberships m ON m.user_id = s.user_id AND m.org_id = s.org_id \
             WHERE s.token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let expires_at: DateTime<Utc> = row.try_get("expires_at")?;
        if expires_at <= Utc::now() {
            return Ok(None);
        }
        Ok(Some(SessionGrant {
            user: user_from(&row)?,
            org_id: row.try_get("org_id")?,
            role: parse_role(row.try_get("role")?)?,
            last_seen_at: row.try_get("last_seen_at")?,
        }))
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?").bind(token_hash).execute(&self.pool).await?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_api_key(
        &self,
        org_id: i64,
        env_id: i64,
        label: &str,
        scope: Scope,
        prefix: &str,
        key_hash: &str,
        cap: Option<i64>,
    ) -> Result<Capped<ApiKey>> {
        // One statement counts and inserts, so concurrent creates cannot both pass the cap.
        let done = sqlx::query(&format!(
            "INSERT INTO api_keys (org_id, env_id, label, scope, prefix, key_hash, created_at) \
             SELECT ?, ?, ?, ?, ?, ?, ? WHERE ? IS NULL OR ({}) < ?",
            billing::API_KEYS_SQL
        ))
        .bind(org_id)
        .bind(env_id)
        .bind(label)
        .bind(scope.as_str())
        .bind(prefix)
        .bind(key_hash)
        .bind(Utc::now())
        .bind(cap)
        .bind(org_id)
        .bind(cap)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            let used = sqlx::query_scalar(billing::API_KEYS_SQL).bind(org_id).fetch_one(&self.pool).await?;
            return Ok(Capped::OverLimit { used });
        }
        let id = done.last_insert_rowid();
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k JOIN environments e ON e.id = k.env_id WHERE k.id = ?"
        ))
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        key_from(&row).map(Capped::Done)
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<KeyGrant>> {
        let row = sqlx::query(
            "SELECT k.id, k.org_id, k.scope, k.prefix, k.last_used_at, e.id AS env_id, e.name AS env_name \
             FROM api_keys k JOIN environments e ON e.id = k.env_id \
             WHERE k.key_hash = ? AND k.revoked_at IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(KeyGrant {
                key_id: r.try_get("id")?,
                org_id: r.try_get("org_id")?,
                env: Environment { id: r.try_get("env_id")?, name: r.try_get("env_name")? },
                scope: parse_scope(r.try_get("scope")?)?,
                prefix: r.try_get("prefix")?,
                last_used_at: r.try_get("last_used_at")?,
            })
        })
        .transpose()
    }

    async fn touch_api_key(&self, key_id: i64) -> Result<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = ? WHERE id = ?")
            .bind(Utc::now())
            .bind(key_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_api_keys(&self, org_id: i64) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k JOIN environments e ON e.id = k.env_id \
             WHERE k.org_id = ? ORDER BY k.id DESC"
        ))
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_from).collect()
    }

    async fn revoke_api_key(&self, org_id: i64, key_id: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND org_id = ?",
        )
        .bind(Utc::now())
        .bind(key_id)
        .bind(org_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_audit(
        &self,
        org_id: i64,
        limit: i64,
        before: Option<i64>,
        action: Option<&str>,
    ) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, actor, action, resource, details, created_at FROM audit \
             WHERE org_id = ? AND (? IS NULL OR id < ?) AND (? IS NULL OR action = ?) ORDER BY id DESC LIMIT ?",
        )
        .bind(org_id)
        .bind(before)
        .bind(before)
        .bind(action)
        .bind(action)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let details: String = r.try_get("details")?;
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    resource: r.try_get("resource")?,
                    details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn add_usage(&self, increments: &[(i64, i64, String, String, i64)]) -> Result<()> {
        if increments.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for (org_id, env_id, day, metric, delta) in increments {
            sqlx::query(
                "INSERT INTO usage_daily (org_id, env_id, day, metric, value) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (org_id, env_id, day, metric) DO UPDATE SET value = value + excluded.value",
            )
            .bind(org_id)
            .bind(env_id)
            .bind(day)
            .bind(metric)
            .bind(delta)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn usage_since(&self, org_id: i64, since_day: &str) -> Result<Vec<UsageRow>> {
        let rows = sqlx::query(
            "SELECT day, metric, SUM(value) AS value FROM usage_daily WHERE org_id = ? AND day >= ? \
             GROUP BY day, metric ORDER BY day, metric",
        )
        .bind(org_id)
        .bind(since_day)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UsageRow {
                    day: r.try_get("day")?,
                    metric: r.try_get("metric")?,
                    value: r.try_get("value")?,
                })
            })
            .collect()
    }

    async fn usage_total(&self, org_id: i64, metric: &str) -> Result<i64> {
        let total: Option<i64> =
            sqlx::query_scalar("SELECT SUM(value) FROM usage_daily WHERE org_id = ? AND metric = ?")
                .bind(org_id)
                .bind(metric)
                .fetch_one(&self.pool)
                .await?;
        Ok(total.unwrap_or(0))
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

fn org_from(row: &sqlx::sqlite::SqliteRow) -> Result<Org> {
    Ok(Org {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        is_demo: row.try_get("is_demo")?,
        created_at: row.try_get("created_at")?,
    })
}
