//! `GET` and `PATCH /v1/settings/org` (admins).

use axum::{Json, Router, extract::State, routing::get};
use contract::settings::{EmbeddingSettings, OrgSettings, OrgSettingsPatch};
use serde_json::json;

use super::validate_origins;
use crate::{
    audit,
    auth::ConsoleOrAdminKey,
    error::{ApiJson, AppError, Result},
    meta::org_settings::{OrgSettingsChange, OrgSettingsRecord},
    state::AppState,
};

/// Audit action of a settings change.
pub const ORG_SETTINGS_UPDATE: &str = "org.settings.update";

/// `/v1/settings/org`.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/settings/org", get(get_org_settings).patch(patch_org_settings))
}

fn answer(record: OrgSettingsRecord) -> OrgSettings {
    OrgSettings {
        id: record.id,
        name: record.name,
        email: record.email,
        created_at: record.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        embedding: EmbeddingSettings { allowed_origins: record.embedding_allowed_origins },
    }
}

fn no_org() -> AppError {
    AppError::NotFound("the org no longer exists".into())
}

async fn get_org_settings(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
) -> Result<Json<OrgSettings>> {
    caller.require_admin_access()?;
    let record = state.org_settings.org_settings(caller.org_id).await?.ok_or_else(no_org)?;
    Ok(Json(answer(record)))
}

async fn patch_org_settings(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    ApiJson(patch): ApiJson<OrgSettingsPatch>,
) -> Result<Json<OrgSettings>> {
    caller.require_admin_access()?;
    let change = validate(patch)?;
    let record = state.org_settings.update_org_settings(caller.org_id, &change).await?.ok_or_else(no_org)?;
    state.framing.invalidate(caller.org_id);
    let mut changed = serde_json::Map::new();
    if let Some(name) = &change.name {
        changed.insert("name".into(), json!(name));
    }
    if let Some(email) = &change.email {
        changed.insert("email".into(), json!(email));
    }
    if let Some(origins) = &change.embedding_allowed_origins {
        changed.insert("embedding.allowed_origins".into(), json!(origins));
    }
    audit::record(&state, &caller, ORG_SETTINGS_UPDATE, &format!("org:{}", caller.org_id), changed.into())
        .await?;
    Ok(Json(answer(record)))
}

fn validate(patch: OrgSettingsPatch) -> Result<OrgSettingsChange> {
    let name = patch
        .name
        .map(|name| {
            let name = name.trim().to_owned();
            if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
                Err(AppError::invalid("name: must be 1 to 200 characters"))
            } else {
                Ok(name)
            }
        })
        .transpose()?;
    let email = patch
        .email
        .map(|email| {
            email
                .map(|email| {
                    let email = email.trim().to_owned();
                    let ok = email.len() <= 254
                        && email.split_once('@').is_some_and(|(local, domain)| {
                            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
                        })
                        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
                    if ok { Ok(email) } else { Err(AppError::invalid("email: must be an email address")) }
                })
                .transpose()
        })
        .transpose()?;
    let embedding_allowed_origins = patch
        .embedding
        .and_then(|e| e.allowed_origins)
        .map(|origins| validate_origins("embedding.allowed_origins", &origins))
        .transpose()?;
    Ok(OrgSettingsChange { name, email, embedding_allowed_origins })
}
