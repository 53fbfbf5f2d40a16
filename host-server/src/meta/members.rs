//! Members and invites of an org: who belongs with which role, and the pending invitations to
//! join (their tokens stored as hashes only). SQLite: `sqlite/members.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{
    error::Result,
    meta::{Org, Role, User},
};

/// One member of an org, as `GET /v1/members` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    /// The user's id (the `{id}` of `/v1/members/{id}`).
    pub user_id: i64,
    /// Login email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role in this org.
    pub role: Role,
    /// When they joined the org.
    pub joined_at: DateTime<Utc>,
    /// When they last used the console in this org (to the minute), if ever.
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// A pending invite, as listed (never its token).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invite {
    /// Id (the `{id}` of `DELETE /v1/members/invites/{id}`).
    pub id: i64,
    /// Who is invited.
    pub email: String,
    /// The role they get on accepting.
    pub role: Role,
    /// Who invited them (`user:<email>` or `api_key:<id>`).
    pub invited_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
}

/// An invite found by its token, whatever its state.
#[derive(Debug, Clone, PartialEq)]
pub struct InviteGrant {
    /// The invite.
    pub invite: Invite,
    /// The org it is for.
    pub org_id: i64,
    /// Accepted already.
    pub accepted: bool,
    /// Cancelled by an admin.
    pub cancelled: bool,
}

/// What a new invite ran into.
#[derive(Debug, Clone, PartialEq)]
pub enum InviteOutcome {
    /// Stored.
    Created(Invite),
    /// A pending, unexpired invite for that email exists.
    AlreadyInvited,
    /// The email already belongs to a member.
    AlreadyMember,
    /// Members plus pending invites already fill the plan's seats: nothing stored.
    OverLimit {
        /// Members plus pending, unexpired invites.
        used: i64,
    },
}

/// What accepting an invite did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// The user is now a member with this role.
    Joined(Role),
    /// The invite is no longer pending (accepted, cancelled or expired meanwhile).
    NotPending,
    /// The user is a member of that org already.
    AlreadyMember,
}

/// What a role change or removal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    /// Done.
    Done,
    /// No such member in the org.
    Missing,
    /// It would leave the org without an owner.
    LastOwner,
}

/// Storage of memberships and invites.
#[async_trait]
pub trait MemberStore: Send + Sync {
    /// The org's members, owners first, then by join time.
    async fn members(&self, org_id: i64) -> Result<Vec<Member>>;
    /// One member of the org.
    async fn member(&self, org_id: i64, user_id: i64) -> Result<Option<Member>>;
    /// Every org the user belongs to, with their role, in join order.
    async fn orgs_of(&self, user_id: i64) -> Result<Vec<(Org, Role)>>;
    /// Changes a member's role; refuses to leave the org without an owner.
    async fn set_role(&self, org_id: i64, user_id: i64, role: Role) -> Result<MemberChange>;
    /// Removes a member and ends their console sessions in the org; refuses to remove the last
    /// owner.
    async fn remove_member(&self, org_id: i64, user_id: i64) -> Result<MemberChange>;
    /// Records that the member used the console now.
    async fn touch_member(&self, org_id: i64, user_id: i64) -> Result<()>;

    /// Stores an invite (its token as `token_hash`) unless one is pending for the email or the
    /// email belongs to a member, or members plus pending invites already reach `seat_cap` (the
    /// plan's members limit, checked in the same transaction). Expired pending invites for the
    /// email are retired first.
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
    ) -> Result<InviteOutcome>;
    /// The org's pending, unexpired invites, newest first.
    async fn pending_invites(&self, org_id: i64) -> Result<Vec<Invite>>;
    /// Cancels a pending invite of the org; `false` when there is none with that id.
    async fn cancel_invite(&self, org_id: i64, invite_id: i64) -> Result<bool>;
    /// The invite behind a token hash, whatever its state.
    async fn invite_by_token(&self, token_hash: &str) -> Result<Option<InviteGrant>>;
    /// Accepts a pending, unexpired invite for `user_id`, atomically (single use).
    async fn accept_invite(&self, invite_id: i64, user_id: i64) -> Result<AcceptOutcome>;
    /// Creates a user with no membership yet (an invitee setting a password).
    async fn create_user(&self, email: &str, name: &str, password_hash: &str) -> Result<User>;

    /// Moves a console session to another org of its user; `false` when the user is not a
    /// member there.
    async fn switch_session_org(&self, token_hash: &str, org_id: i64) -> Result<bool>;
    /// Deletes the org and everything of it in the metadata store (members, invites,
    /// environments, sessions, keys, dashboards, widgets, saved queries, audit, usage).
    async fn delete_org(&self, org_id: i64) -> Result<()>;
}
