//! Emban's server: ingest, analytics queries, accounts and keys, dashboards and signed embed
//! sessions, on an embedded DuckDB + SQLite default. The modules are layered (see
//! `docs/architecture.md`): each imports only from the layers below it.
#![forbid(unsafe_code)]

// Layer 1: the ground.
pub mod clock;
pub mod error;
pub mod secrets;
pub mod time;
// Layer 2: stores, adapters, settings.
pub mod config;
pub mod delivery;
pub mod events;
pub mod limits;
pub mod meta;
// Layer 3: domain rules over store traits.
pub mod analytics;
pub mod auth;
pub mod billing;
pub mod dashboards;
pub mod ingest;
pub mod outbox;
pub mod render;
pub mod settings;
// What every handler shares: the stores, chosen once, and the limits.
pub mod state;
// Layer 4: use cases that combine areas.
pub mod accounts;
pub mod alerts;
pub mod embed;
pub mod reports;
// Layer 5: the demo.
pub mod demo;
// Layer 6: HTTP.
pub mod routes;
// Layer 7: start, serve, shut down.
pub mod server;

pub use routes::app;
pub use server::{RunningServer, build::build_state, serve, start};
