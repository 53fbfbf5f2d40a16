//! The team of an org: members and their roles (at least one owner, always), invites (a random
//! token shown once, stored hashed, single use, expiring, cancellable), and accepting one.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    accounts::{bounded_text, validate_email, validate_password},
    auth::{Caller, access::Need, passwords::hash_password},
    billing::limits::Gate,
    error::{AppError, Result},
    meta::{
        Org, Role, User,
        audit::{self, Entry},
        members::{AcceptOutcome, Invite, InviteOutcome, Member, MemberChange},
    },
    secrets::{random_token, sha256_hex},
    state::AppState,
    time::timestamp,
};

/// Audit actions of the team.
pub const MEMBER_INVITE: &str = "member.invite";
/// Audit action of a cancelled invite.
pub const MEMBER_INVITE_CANCEL: &str = "member.invite_cancel";
/// Audit action of an accepted invite.
pub const MEMBER_JOIN: &str = "member.join";
/// Audit action of a role change.
pub const MEMBER_ROLE: &str = "member.role";
/// Audit action of a removal.
pub const MEMBER_REMOVE: &str = "member.remove";

/// Longest invite token accepted (ours are 43 characters).
const MAX_TOKEN_CHARS: usize = 200;

/// Body of `POST /v1/members/invite`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// Who to invite.
    pub email: String,
    /// `viewer`, `editor` or `admin`.
    pub role: String,
}

/// Body of `PATCH /v1/members/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    /// `viewer`, `editor`, `admin` or `owner`.
    pub role: String,
}

/// Body of `POST /v1/auth/accept-invite`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// The invite's token.
    pub token: String,
    /// A new user's password (not needed when signed in).
    #[serde(default)]
    pub password: Option<String>,
    /// A new user's display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// A member as the API shows it.
pub fn member_json(m: &Member) -> Value {
    json!({
        "id": m.user_id,
        "user_id": m.user_id,
        "email": m.email,
        "name": m.name,
        "role": m.role,
        "joined_at": timestamp(m.joined_at),
        "last_seen_at": m.last_seen_at.map(timestamp),
    })
}

/// A pending invite as the API shows it (never its token).
pub fn invite_json(i: &Invite) -> Value {
    json!({
        "id": i.id,
        "email": i.email,
        "role": i.role,
        "invited_by": i.invited_by,
        "created_at": timestamp(i.created_at),
        "expires_at": timestamp(i.expires_at),
    })
}

/// An invite just created: the only time its token exists outside the invitee's link.
pub struct CreatedInvite {
    /// The stored invite.
    pub invite: Invite,
    /// The token for the link.
    pub token: String,
    /// The link to open.
    pub invite_url: String,
    /// Whether the link went out by mail (only with `--smtp-url`).
    pub email_sent: bool,
}

/// Invites `email` with `role` (`viewer`, `editor` or `admin`); 409 when they are a member or
/// have a pending invite.
pub async fn invite(state: &AppState, caller: &Caller, request: InviteRequest) -> Result<CreatedInvite> {
    let email = validate_email(&request.email)?;
    let role = match Role::parse(request.role.trim()) {
        Some(role @ (Role::Viewer | Role::Editor | Role::Admin)) => role,
        Some(Role::Owner) => {
            return Err(AppError::invalid(
                "role: invite as admin, editor or viewer; the owner role is given with PATCH /v1/members/{id}",
            ));
        }
        None => {
            return Err(AppError::invalid(format!(
                "role: must be \"viewer\", \"editor\" or \"admin\" (got {:?})",
                crate::error::clip(&request.role)
            )));
        }
    };
    let token = random_token(43);
    let expires_at = chrono::Utc::now() + state.invite_ttl;
    let actor = caller.actor();
    // An invite holds a seat: members plus pending invites count against the plan's members.
    let cap = state.billing.cap(caller.org_id, Gate::Members).await?;
    let outcome = state
        .members
        .create_invite(caller.org_id, &email, role, &sha256_hex(&token), &actor, expires_at, cap.limit())
        .await?;
    let invite = match outcome {
        InviteOutcome::Created(invite) => invite,
        InviteOutcome::AlreadyInvited => {
            return Err(AppError::Conflict(format!("{email} already has a pending invite to this org")));
        }
        InviteOutcome::AlreadyMember => {
            return Err(AppError::Conflict(format!("{email} is already a member of this org")));
        }
        InviteOutcome::OverLimit { used } => return Err(cap.refuse(used)),
    };
    let details =
        json!({ "email": invite.email, "role": invite.role, "expires_at": timestamp(invite.expires_at) });
    audit::record(&*state.dashboards, caller.audit(MEMBER_INVITE, format!("invite:{}", invite.id), details))
        .await?;
    let invite_url = format!("{}/accept-invite?token={token}", state.public_url);
    let email_sent = match &state.mailer {
        None => false,
        Some(mailer) => {
            let org = state.meta.org(caller.org_id).await?.map(|o| o.name).unwrap_or_default();
            let body = format!(
                "You are invited to join {org} on Emban as {}.\n\nAccept the invite: {invite_url}\n\n\
                 The link works once, until {} (UTC).\n",
                invite.role.as_str(),
                timestamp(invite.expires_at)
            );
            // The invite stands either way: the link in the answer is the fallback delivery.
            match mailer.send(&invite.email, &format!("Join {org} on Emban"), body).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "mailing an invite failed");
                    false
                }
            }
        }
    };
    Ok(CreatedInvite { invite, token, invite_url, email_sent })
}

/// Cancels a pending invite of the caller's org; its token stops working.
pub async fn cancel_invite(state: &AppState, caller: &Caller, id: i64) -> Result<()> {
    if !state.members.cancel_invite(caller.org_id, id).await? {
        return Err(AppError::NotFound(format!("no pending invite with id {id}")));
    }
    audit::record(&*state.dashboards, caller.audit(MEMBER_INVITE_CANCEL, format!("invite:{id}"), json!({})))
        .await
}

/// What an accepted invite gave: the user (new or signed in), the org and the role.
pub struct Joined {
    /// The member.
    pub user: User,
    /// The org joined.
    pub org: Org,
    /// Their role there.
    pub role: Role,
}

/// Accepts an invite: a signed-in user (`signed_in`) joins with the token alone, provided the
/// invite is for their email; anyone else becomes a new user with the password they set.
pub async fn accept(state: &AppState, request: AcceptRequest, signed_in: Option<User>) -> Result<Joined> {
    let token = request.token.trim();
    if token.is_empty()
        || token.chars().count() > MAX_TOKEN_CHARS
        || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(AppError::invalid("token: not an invite token (copy the whole link)"));
    }
    let grant =
        state.members.invite_by_token(&sha256_hex(token)).await?.ok_or_else(|| {
            AppError::NotFound("no invite with this token (the link may be mistyped)".into())
        })?;
    let refused = |code, message: &str| AppError::Refused { code, message: message.to_owned() };
    if grant.accepted {
        return Err(refused("invite_used", "this invite has been used already; sign in instead"));
    }
    if grant.cancelled {
        return Err(refused("invite_cancelled", "this invite was cancelled; ask for a new one"));
    }
    if grant.invite.expires_at <= chrono::Utc::now() {
        return Err(refused("invite_expired", "this invite has expired; ask for a new one"));
    }
    let user = match signed_in {
        Some(user) => {
            if !user.email.eq_ignore_ascii_case(&grant.invite.email) {
                return Err(AppError::Forbidden(format!(
                    "this invite is for {}; you are signed in as {}",
                    grant.invite.email, user.email
                )));
            }
            user
        }
        None => {
            let password = request.password.ok_or_else(|| {
                AppError::invalid(
                    "password: required to create your account (or sign in first to join with it)",
                )
            })?;
            validate_password(&password)?;
            let local = grant.invite.email.split('@').next().unwrap_or("user").to_owned();
            let name = bounded_text("name", request.name, local)?;
            let hash = hash_password(&state.limits.hashing, password).await?;
            state.members.create_user(&grant.invite.email, &name, &hash).await?
        }
    };
    let role = match state.members.accept_invite(grant.invite.id, user.id).await? {
        AcceptOutcome::Joined(role) => role,
        AcceptOutcome::NotPending => {
            return Err(refused("invite_used", "this invite is no longer pending; ask for a new one"));
        }
        AcceptOutcome::AlreadyMember => {
            return Err(AppError::Conflict("you are already a member of this org".into()));
        }
    };
    let org = state
        .meta
        .org(grant.org_id)
        .await?
        .ok_or_else(|| AppError::NotFound("the org no longer exists".into()))?;
    let details = json!({ "email": user.email, "role": role, "invite_id": grant.invite.id });
    let entry =
        Entry::new(org.id, format!("user:{}", user.email), MEMBER_JOIN, format!("user:{}", user.id), details);
    audit::record(&*state.dashboards, entry).await?;
    Ok(Joined { user, org, role })
}

/// Changes a member's role (owners only, by the access table); giving `owner` is how ownership
/// is transferred; 409 when it would leave the org without an owner.
pub async fn set_role(
    state: &AppState,
    caller: &Caller,
    user_id: i64,
    request: RoleRequest,
) -> Result<Member> {
    let role = Role::parse(request.role.trim()).ok_or_else(|| {
        AppError::invalid(format!(
            "role: must be \"viewer\", \"editor\", \"admin\" or \"owner\" (got {:?})",
            crate::error::clip(&request.role)
        ))
    })?;
    let before = state.members.member(caller.org_id, user_id).await?.ok_or_else(|| no_member(user_id))?;
    match state.members.set_role(caller.org_id, user_id, role).await? {
        MemberChange::Done => {}
        MemberChange::Missing => return Err(no_member(user_id)),
        MemberChange::LastOwner => return Err(last_owner()),
    }
    let details = json!({ "email": before.email, "from": before.role, "to": role });
    audit::record(&*state.dashboards, caller.audit(MEMBER_ROLE, format!("user:{user_id}"), details)).await?;
    state.members.member(caller.org_id, user_id).await?.ok_or_else(|| no_member(user_id))
}

/// Removes a member: admins remove editors and viewers, owners anyone; their console sessions
/// in the org end at once; 409 for the last owner.
pub async fn remove(state: &AppState, caller: &Caller, user_id: i64) -> Result<()> {
    let member = state.members.member(caller.org_id, user_id).await?.ok_or_else(|| no_member(user_id))?;
    if member.role.is_admin() {
        caller.may(Need::Owner).map_err(|_| {
            AppError::Forbidden(format!("removing an {} needs the owner role", member.role.as_str()))
        })?;
    }
    match state.members.remove_member(caller.org_id, user_id).await? {
        MemberChange::Done => {}
        MemberChange::Missing => return Err(no_member(user_id)),
        MemberChange::LastOwner => return Err(last_owner()),
    }
    let details = json!({ "email": member.email, "role": member.role });
    audit::record(&*state.dashboards, caller.audit(MEMBER_REMOVE, format!("user:{user_id}"), details)).await
}

fn no_member(user_id: i64) -> AppError {
    AppError::NotFound(format!("no member with id {user_id} in this org"))
}

fn last_owner() -> AppError {
    AppError::Conflict(
        "the org must keep an owner: make another member owner first (PATCH /v1/members/{id})".into(),
    )
}
