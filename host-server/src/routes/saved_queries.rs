//! `/v1/saved-queries`: reading needs any console credential; writing needs admin access.

use serde_json::json;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, patch},
};

use crate::{
    analytics::saved_queries::{CreateSavedQuery, UpdateSavedQuery, check_dataset, check_name, check_sql},
    auth::Caller,
    error::{ApiJson, AppError, Result},
    meta::{
        audit,
        saved_queries::{SavedQuery, SavedQueryPatch},
    },
    state::AppState,
};

/// `/v1/saved-queries` and `/v1/saved-queries/{id}`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/saved-queries", get(list_saved_queries).post(create_saved_query))
        .route("/v1/saved-queries/{id}", patch(update_saved_query).delete(delete_saved_query))
}

fn parse_id(id: &str) -> Result<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| AppError::NotFound(format!("no saved query {id:?}")))
}

async fn list_saved_queries(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<SavedQuery>>> {
    Ok(Json(state.saved_queries.list_saved_queries(caller.org_id).await?))
}

async fn create_saved_query(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateSavedQuery>,
) -> Result<(StatusCode, Json<SavedQuery>)> {
    let name = check_name(&body.name)?;
    let sql = check_sql(&body.sql)?;
    let dataset = check_dataset(body.dataset.as_deref().unwrap_or("events"))?;
    let saved =
        state.saved_queries.create_saved_query(caller.org_id, &name, &sql, &dataset, &caller.actor()).await?;
    let details = json!({ "name": saved.name, "dataset": saved.dataset });
    audit::record(
        &*state.dashboards,
        caller.audit("saved_query.create", format!("saved_query:{}", saved.id), details),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

async fn update_saved_query(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateSavedQuery>,
) -> Result<Json<SavedQuery>> {
    let id = parse_id(&id)?;
    let patch = SavedQueryPatch {
        name: body.name.as_deref().map(check_name).transpose()?,
        sql: body.sql.as_deref().map(check_sql).transpose()?,
        dataset: body.dataset.as_deref().map(check_dataset).transpose()?,
        starred: body.starred,
    };
    let saved = state
        .saved_queries
        .update_saved_query(caller.org_id, id, patch)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no saved query {id}")))?;
    let details = json!({ "name": saved.name, "dataset": saved.dataset });
    audit::record(
        &*state.dashboards,
        caller.audit("saved_query.update", format!("saved_query:{id}"), details),
    )
    .await?;
    Ok(Json(saved))
}

async fn delete_saved_query(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id = parse_id(&id)?;
    if !state.saved_queries.delete_saved_query(caller.org_id, id).await? {
        return Err(AppError::NotFound(format!("no saved query {id}")));
    }
    audit::record(
        &*state.dashboards,
        caller.audit("saved_query.delete", format!("saved_query:{id}"), json!({})),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
