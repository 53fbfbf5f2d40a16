//! `GET` and `PATCH /v1/settings/org` (admins).

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use contract::settings::{EmbeddingSettings, OrgSettings, OrgSettingsPatch};

use crate::{
    accounts::org::{self, DeleteOrgRequest},
    auth::Caller,
    error::{ApiJson, AppError, Result},
    meta::{audit, org_settings::OrgSettingsRecord},
    settings::{ORG_SETTINGS_UPDATE, changed_fields, validate_patch},
    state::AppState,
    time::timestamp,
};

/// `/v1/settings/org`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/settings/org", get(get_org_settings).patch(patch_org_settings).delete(delete_org))
}

fn answer(record: OrgSettingsRecord) -> OrgSettings {
    OrgSettings {
        id: record.id,
        name: record.name,
        email: record.email,
        created_at: timestamp(record.created_at),
        embedding: EmbeddingSettings { allowed_origins: record.embedding_allowed_origins },
    }
}

fn no_org() -> AppError {
    AppError::NotFound("the org no longer exists".into())
}

async fn get_org_settings(State(state): State<AppState>, caller: Caller) -> Result<Json<OrgSettings>> {
    let record = state.org_settings.org_settings(caller.org_id).await?.ok_or_else(no_org)?;
    Ok(Json(answer(record)))
}

async fn patch_org_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(patch): ApiJson<OrgSettingsPatch>,
) -> Result<Json<OrgSettings>> {
    let change = validate_patch(patch)?;
    let record = state.org_settings.update_org_settings(caller.org_id, &change).await?.ok_or_else(no_org)?;
    state.framing.invalidate(caller.org_id);
    audit::record(
        &*state.dashboards,
        caller.audit(ORG_SETTINGS_UPDATE, format!("org:{}", caller.org_id), changed_fields(&change)),
    )
    .await?;
    Ok(Json(answer(record)))
}

/// Deletes the org for good (owners only); the body names it to confirm.
async fn delete_org(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<DeleteOrgRequest>,
) -> Result<StatusCode> {
    org::delete(&state, &caller, body).await?;
    Ok(StatusCode::NO_CONTENT)
}
