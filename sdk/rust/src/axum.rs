//! axum integration: [`EmbanLayer`] puts the client (and, with a tenant resolver, the request's
//! [`TenantClient`]) into each request's extensions; the [`Emban`] and [`Tenant`] extractors hand
//! them to handlers.
//!
//! ```no_run
//! use axum::{Json, Router, routing::get};
//! use emban_sdk::{
//!     Client,
//!     axum::{EmbanLayer, Tenant},
//!     contract::embed::CreateEmbedSessionRequest,
//! };
//!
//! async fn analytics(Tenant(emban): Tenant) -> Result<Json<serde_json::Value>, String> {
//!     let session = emban
//!         .create_embed_session(CreateEmbedSessionRequest {
//!             tenant_id: String::new(),
//!             dashboard_id: "8b0c…".into(),
//!             expires_in: Some(3600),
//!             permissions: Default::default(),
//!             allowed_origins: vec![],
//!             locale: None,
//!         })
//!         .await
//!         .map_err(|e| e.to_string())?;
//!     Ok(Json(serde_json::json!({ "embed_url": session.embed_url })))
//! }
//!
//! # fn app(client: Client) -> Router {
//! Router::new().route("/api/analytics", get(analytics)).layer(EmbanLayer::new(client).tenant_from(
//!     |parts: &axum::http::request::Parts| {
//!         parts.headers.get("x-org").and_then(|v| v.to_str().ok()).map(str::to_owned)
//!     },
//! ))
//! # }
//! ```

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    Json,
    extract::FromRequestParts,
    http::{Request, StatusCode, request::Parts},
    response::{IntoResponse, Response},
};
use contract::ErrorBody;

use crate::{client::Client, tenant::TenantClient};

type TenantFrom = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

/// A tower layer that attaches the client, and the request's tenant handle, to every request.
#[derive(Clone)]
pub struct EmbanLayer {
    client: Client,
    tenant_from: Option<TenantFrom>,
}

impl EmbanLayer {
    /// Attaches `client` (for [`Emban`]).
    pub fn new(client: Client) -> Self {
        EmbanLayer { client, tenant_from: None }
    }

    /// Also resolves each request's tenant (from headers, or your auth layer's extensions) for
    /// [`Tenant`]; `None` makes [`Tenant`] answer 401.
    pub fn tenant_from(mut self, resolve: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static) -> Self {
        self.tenant_from = Some(Arc::new(resolve));
        self
    }
}

impl<S> tower::Layer<S> for EmbanLayer {
    type Service = EmbanService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        EmbanService { inner, layer: self.clone() }
    }
}

/// The service [`EmbanLayer`] wraps around routes.
#[derive(Clone)]
pub struct EmbanService<S> {
    inner: S,
    layer: EmbanLayer,
}

/// What the layer resolved for a request.
#[derive(Clone)]
struct Resolved(Option<TenantClient>);

impl<S, B> tower::Service<Request<B>> for EmbanService<S>
where
    S: tower::Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        if let Some(resolve) = &self.layer.tenant_from {
            let tenant = resolve(&parts).and_then(|t| self.layer.client.for_tenant(t).ok());
            parts.extensions.insert(Resolved(tenant));
        }
        parts.extensions.insert(self.layer.client.clone());
        self.inner.call(Request::from_parts(parts, body))
    }
}

/// The unscoped client, from [`EmbanLayer`].
pub struct Emban(pub Client);

/// The request's tenant handle, from [`EmbanLayer::tenant_from`].
pub struct Tenant(pub TenantClient);

/// Why [`Emban`] or [`Tenant`] could not be extracted, written as the `{"error", "code"}` envelope.
#[derive(Debug)]
pub enum Rejection {
    /// 500: the route has no [`EmbanLayer`] (or no `tenant_from`): a wiring bug.
    NotConfigured(&'static str),
    /// 401: the resolver found no tenant for this request.
    NoTenant,
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let (status, code, error) = match self {
            Rejection::NotConfigured(what) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "emban_not_configured", what.to_owned())
            }
            Rejection::NoTenant => {
                (StatusCode::UNAUTHORIZED, "no_tenant", "no tenant for this request".to_owned())
            }
        };
        (status, Json(ErrorBody { error, code: code.to_owned() })).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Emban {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Client>()
            .cloned()
            .map(Emban)
            .ok_or(Rejection::NotConfigured("the route has no EmbanLayer"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Resolved>() {
            None => Err(Rejection::NotConfigured("the route has no EmbanLayer with tenant_from")),
            Some(Resolved(None)) => Err(Rejection::NoTenant),
            Some(Resolved(Some(tenant))) => Ok(Tenant(tenant.clone())),
        }
    }
}
