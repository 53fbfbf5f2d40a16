//! `emban-sdk`: the Rust server SDK for [Emban](https://github.com/) — events (sent now with
//! [`Client::ingest`] or batched with [`Client::track`]), queries, dashboards, widgets, signed
//! embed sessions, discovery, API keys, saved and ad-hoc SQL, usage and audit, with retries
//! (connection failures, 429 honouring `Retry-After`, 5xx; exponential backoff with jitter) and
//! one error enum ([`Error`]). Request and response types are the server's own, from
//! [`contract`]. `docs/sdk.md` in the repository compares it with the Node SDK.
//!
//! Build one [`Client`] at start-up and clone it where needed; [`Client::for_tenant`] hands out
//! a handle confined to one tenant, and (feature `axum`, on by default) [`axum::EmbanLayer`]
//! gives handlers the request's tenant handle.
//!
//! ```no_run
//! # async fn run() -> Result<(), emban_sdk::Error> {
//! use emban_sdk::{Client, contract::{embed::{CreateEmbedSessionRequest, EmbedPermissions}, events::IngestEvent}};
//!
//! let ingest = Client::builder(std::env::var("EMBAN_INGEST_KEY").unwrap_or_default())
//!     .base_url("https://emban.example.com")
//!     .build()?;
//! let admin = Client::builder(std::env::var("EMBAN_ADMIN_KEY").unwrap_or_default())
//!     .base_url("https://emban.example.com")
//!     .build()?;
//!
//! ingest
//!     .ingest(vec![IngestEvent {
//!         tenant_id: "customer_1".into(),
//!         event_name: "api.call".into(),
//!         string_props: Some([("model".into(), "gpt-4".into()), ("endpoint".into(), "/chat".into())].into()),
//!         numeric_props: Some([("tokens".into(), 150.0), ("latency_ms".into(), 230.0)].into()),
//!         ..Default::default()
//!     }])
//!     .await?;
//!
//! let session = admin
//!     .create_embed_session(&CreateEmbedSessionRequest {
//!         tenant_id: "customer_1".into(),
//!         dashboard_id: "dash_abc".into(),
//!         expires_in: None,
//!         permissions: EmbedPermissions {
//!             allow_drill_down: true,
//!             allowed_dimensions: Some(vec!["model".into(), "endpoint".into()]),
//!             ..Default::default()
//!         },
//!         allowed_origins: vec![],
//!         locale: None,
//!     })
//!     .await?;
//! println!("{}", session.embed_url);
//!
//! // Batched: queued, sent at 1,000 events, 500 KB or 5 s; drained by shutdown().
//! ingest.track(IngestEvent { tenant_id: "customer_1".into(), event_name: "page.view".into(), ..Default::default() })?;
//! ingest.shutdown().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "axum")]
pub mod axum;
mod client;
mod error;
mod queue;
mod routes;
mod tenant;
mod transport;

pub use client::{
    ApiKey, Client, ClientBuilder, CreateApiKeyRequest, CreatedApiKey, EmbedSessionInfo, PreviewRequest,
    QueryParams, SavedQuery, SavedQueryFields, SqlResult,
};
/// The server's request and response types.
pub use contract;
pub use error::{ApiFailure, Error, PlanLimit};
pub use queue::{ErrorHandler, FlushResult};
pub use routes::{ROUTES, RouteName};
pub use tenant::TenantClient;
pub use transport::SDK_VERSION;
