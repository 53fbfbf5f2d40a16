//! [`MemberStore`] on the SQLite metadata store. Role changes and removals are single guarded
//! statements, so two concurrent demotions cannot leave an org without an owner (SQLite runs
//! writes one at a time).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Row, sqlite::SqliteRow};

use super::{SqliteMeta, is_unique_violation, org_from, parse_role, user_from};
use crate::{
    error::{AppError, Result},
    meta::{
        Org, Role, User,
        members::{AcceptOutcome, Invite, InviteGrant, InviteOutcome, Member, MemberChange, MemberStore},
    },
};

const MEMBER_COLUMNS: &str =
    "u.id AS user_id, u.email, u.name, m.role, m.created_at AS joined_at, m.last_seen_at";

fn member_from(row: &SqliteRow) -> Result<Member> {
    Ok(Member {
        user_id: row.try_get("user_id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: parse_role(row.try_get("role")?)?,
        joined_at: row.try_get("joined_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
    })
}

const INVITE_COLUMNS: &str =
    "id, org_id, email, role, invited_by, created_at, expires_at, accepted_at, cancelled_at";

fn invite_from(row: &SqliteRow) -> Result<Invite> {
    Ok(Invite {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        role: parse_role(row.try_get("role")?)?,
        invited_by: row.try_get("invited_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

/// Owners left in the org besides `user_id`: the guard of every demotion and removal.
const OTHER_OWNERS: &str = "(SELECT COUNT(*) FROM memberships o WHERE o.org_id = memberships.org_id AND o.role = 'owner' \
     AND o.user_id != memberships.user_id)";

impl SqliteMeta {
    /// Why a guarded change of `user_id` in `org_id` changed nothing.
    async fn why_unchanged(&self, org_id: i64, user_id: i64) -> Result<MemberChange> {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM memberships WHERE org_id = ? AND user_id = ?)")
                .bind(org_id)
                .bind(user_id)
                .fetch_one(self.pool())
                .await?;
        Ok(if exists { MemberChange::LastOwner } else { MemberChange::Missing })
    }
}

#[async_trait]
impl MemberStore for SqliteMeta {
    async fn members(&self, org_id: i64) -> Result<Vec<Member>> {
        let rows = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = ? \
             ORDER BY CASE m.role WHEN 'owner' THEN 0 ELSE 1 END, m.created_at, u.id"
        ))
        .bind(org_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(member_from).collect()
    }

    async fn member(&self, org_id: i64, user_id: i64) -> Result<Option<Member>> {
        let row = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = ? AND m.user_id = ?"
        ))
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(member_from).transpose()
    }

    async fn orgs_of(&self, user_id: i64) -> Result<Vec<(Org, Role)>> {
        let rows = sqlx::query(
            "SELECT o.id, o.name, o.is_demo, o.created_at, m.role FROM memberships m \
             JOIN orgs o ON o.id = m.org_id WHERE m.user_id = ? ORDER BY m.created_at, o.id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok((org_from(r)?, parse_role(r.try_get("role")?)?))).collect()
    }

    async fn set_role(&self, org_id: i64, user_id: i64, role: Role) -> Result<MemberChange> {
        let done = sqlx::query(&format!(
            "UPDATE memberships SET role = ? WHERE org_id = ? AND user_id = ? \
             AND (role != 'owner' OR ? = 'owner' OR {OTHER_OWNERS} > 0)"
        ))
        .bind(role.as_str())
        .bind(org_id)
        .bind(user_id)
        .bind(role.as_str())
        .execute(self.pool())
        .await?;
        if done.rows_affected() > 0 {
            return Ok(MemberChange::Done);
        }
        self.why_unchanged(org_id, user_id).await
    }

    async fn remove_member(&self, org_id: i64, user_id: i64) -> Result<MemberChange> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(&format!(
            "DELETE FROM memberships WHERE org_id = ? AND user_id = ? AND (role != 'owner' OR {OTHER_OWNERS} > 0)"
        ))
        .bind(org_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return self.why_unchanged(org_id, user_id).await;
        }
        sqlx::query("DELETE FROM sessions WHERE org_id = ? AND user_id = ?")
            .bind(org_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(MemberChange::Done)
    }

    async fn touch_member(&self, org_id: i64, user_id: i64) -> Result<()> {
        sqlx::query("UPDATE memberships SET last_seen_at = ? WHERE org_id = ? AND user_id = ?")
            .bind(Utc::now())
            .bind(org_id)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_invite(
        &self,
        org_id: i64,
        email: &str,
        role: Role,
        token_hash: &str,
        invited_by: &str,
        expires_at: DateTime<Utc>,
        seat_cap: Option<i64>,
    ) -> Result<InviteOutcome> {
        let now = Utc::now();
        // The first statement writes, so the transaction holds the write lock from the start (a
        // read first could not be upgraded once another connection wrote).
        let mut tx = self.pool().begin().await?;
        // An expired invite no longer blocks a new one.
        sqlx::query(
            "UPDATE invites SET cancelled_at = ? WHERE org_id = ? AND email = ? AND accepted_at IS NULL \
             AND cancelled_at IS NULL AND expires_at <= ?",
        )
        .bind(now)
        .bind(org_id)
        .bind(email)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let member: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = ? AND u.email = ?)",
        )
        .bind(org_id)
        .bind(email)
        .fetch_one(&mut *tx)
        .await?;
        if member {
            return Ok(InviteOutcome::AlreadyMember);
        }
        if let Some(cap) = seat_cap {
            let used: i64 = sqlx::query_scalar(super::billing::SEATS_SQL)
                .bind(org_id)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            if used >= cap {
                return Ok(InviteOutcome::OverLimit { used });
            }
        }
        let inserted = sqlx::query(
            "INSERT INTO invites (org_id, email, role, token_hash, invited_by, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(org_id)
        .bind(email)
        .bind(role.as_str())
        .bind(token_hash)
        .bind(invited_by)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await;
        let id = match inserted {
            Ok(done) => done.last_insert_rowid(),
            Err(e) if is_unique_violation(&e) => return Ok(InviteOutcome::AlreadyInvited),
            Err(e) => return Err(e.into()),
        };
        tx.commit().await?;
        Ok(InviteOutcome::Created(Invite {
            id,
            email: email.to_owned(),
            role,
            invited_by: invited_by.to_owned(),
            created_at: now,
            expires_at,
        }))
    }

    async fn pending_invites(&self, org_id: i64) -> Result<Vec<Invite>> {
        let rows = sqlx::query(&format!(
            "SELECT {INVITE_COLUMNS} FROM invites WHERE org_id = ? AND accepted_at IS NULL \
             AND cancelled_at IS NULL AND expires_at > ? ORDER BY id DESC"
        ))
        .bind(org_id)
        .bind(Utc::now())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(invite_from).collect()
    }

    async fn cancel_invite(&self, org_id: i64, invite_id: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE invites SET cancelled_at = ? WHERE org_id = ? AND id = ? AND accepted_at IS NULL \
             AND cancelled_at IS NULL",
        )
        .bind(Utc::now())
        .bind(org_id)
        .bind(invite_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn invite_by_token(&self, token_hash: &str) -> Result<Option<InviteGrant>> {
        let row = sqlx::query(&format!("SELECT {INVITE_COLUMNS} FROM invites WHERE token_hash = ?"))
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(InviteGrant {
            invite: invite_from(&row)?,
            org_id: row.try_get("org_id")?,
            accepted: row.try_get::<Option<DateTime<Utc>>, _>("accepted_at")?.is_some(),
            cancelled: row.try_get::<Option<DateTime<Utc>>, _>("cancelled_at")?.is_some(),
        }))
    }

    async fn accept_invite(&self, invite_id: i64, user_id: i64) -> Result<AcceptOutcome> {
        let now = Utc::now();
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "UPDATE invites SET accepted_at = ?, accepted_by = ? WHERE id = ? AND accepted_at IS NULL \
             AND cancelled_at IS NULL AND expires_at > ? RETURNING org_id, role",
        )
        .bind(now)
        .bind(user_id)
        .bind(invite_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(AcceptOutcome::NotPending) };
        let org_id: i64 = row.try_get("org_id")?;
        let role = parse_role(row.try_get("role")?)?;
        let joined =
            sqlx::query("INSERT INTO memberships (user_id, org_id, role, created_at) VALUES (?, ?, ?, ?)")
                .bind(user_id)
                .bind(org_id)
                .bind(role.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await;
        match joined {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Ok(AcceptOutcome::AlreadyMember),
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(AcceptOutcome::Joined(role))
    }

    async fn create_user(&self, email: &str, name: &str, password_hash: &str) -> Result<User> {
        let now = Utc::now();
        let done =
            sqlx::query("INSERT INTO users (email, name, password_hash, created_at) VALUES (?, ?, ?, ?)")
                .bind(email)
                .bind(name)
                .bind(password_hash)
                .bind(now)
                .execute(self.pool())
                .await;
        let id = match done {
            Ok(done) => done.last_insert_rowid(),
            Err(e) if is_unique_violation(&e) => {
                return Err(AppError::Conflict(
                    "a user with this email is already registered: sign in, then accept the invite".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let row = sqlx::query("SELECT id, email, name, created_at FROM users WHERE id = ?")
            .bind(id)
            .fetch_one(self.pool())
            .await?;
        user_from(&row)
    }

    async fn switch_session_org(&self, token_hash: &str, org_id: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET org_id = ? WHERE token_hash = ? AND EXISTS \
             (SELECT 1 FROM memberships m WHERE m.user_id = sessions.user_id AND m.org_id = ?)",
        )
        .bind(org_id)
        .bind(token_hash)
        .bind(org_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_org(&self, org_id: i64) -> Result<()> {
        // Every table of the org references it with ON DELETE CASCADE (foreign keys are on).
        let mut tx = self.pool().begin().await?;
        sqlx::query("INSERT OR IGNORE INTO retired_org_ids (id) VALUES (?)")
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM orgs WHERE id = ?").bind(org_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}
