//! `emban serve` settings: every one a flag with an environment variable.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, ValueEnum};

use crate::secrets::Secret;

/// Where events are stored. Chosen once at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventsBackend {
    /// Embedded DuckDB file in the data dir (the zero-setup default).
    Duckdb,
}

/// Flags of `emban serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "EMBAN_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Directory for the metadata database, the events store and generated secrets.
    #[arg(long, env = "EMBAN_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Base URL browsers reach this server at, used in embed URLs and to decide whether cookies
    /// are `Secure`. Defaults to `http://{bind}`.
    #[arg(long, env = "EMBAN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Events store.
    #[arg(long, env = "EMBAN_EVENTS_STORE", value_enum, default_value = "duckdb")]
    pub events_store: EventsBackend,
    /// ClickHouse HTTP URL with the database, e.g. `http://127.0.0.1:8123/emban`. When set, events
    /// live in ClickHouse instead of DuckDB (schema created and migrated on start).
    #[arg(long, env = "EMBAN_EVENTS_URL")]
    pub events_url: Option<String>,
    /// Seed a demo org with sample events on first start.
    #[arg(long, env = "EMBAN_DEMO", default_value_t = true, action = clap::ArgAction::Set)]
    pub demo: bool,
    /// Keep the DuckDB store's daily rollup (counts per tenant, event, day and common dimension),
    /// so whole-day `count` queries read it instead of events: much faster for large tenants, at
    /// a measured 30-40% of ingest throughput with many small tenants (BENCHMARKS.md). Off drops
    /// it; turning it on rebuilds it from the stored events.
    #[arg(long, env = "EMBAN_DUCKDB_DAILY_ROLLUP", default_value_t = false, action = clap::ArgAction::Set)]
    pub duckdb_daily_rollup: bool,
    /// Memory limit for DuckDB, e.g. `1GB`.
    #[arg(long, env = "EMBAN_DUCKDB_MEMORY_LIMIT", default_value = "1GB")]
    pub duckdb_memory_limit: String,
    /// Signing secret for embed tokens (at least 32 bytes). Generated into the data dir when unset.
    #[arg(long, env = "EMBAN_SIGNING_SECRET", hide_env_values = true)]
    pub signing_secret: Option<Secret>,
    /// The built embed runtime (Trunk's output, `trunk build --release`): served at
    /// `/embed/{dashboard_id}` and `/embed-assets/`.
    #[arg(long, env = "EMBAN_RUNTIME_DIR", default_value = "dist")]
    pub runtime_dir: PathBuf,
    /// The live demo's pages, served at `/` and `/raw.html`.
    #[arg(long, env = "EMBAN_WWW_DIR", default_value = "www")]
    pub www_dir: PathBuf,
    /// The helper's npm package (`scripts/build-helper.sh`), served at `/helper/` for the demo.
    #[arg(long, env = "EMBAN_HELPER_DIR", default_value = "embed-helper/pkg")]
    pub helper_dir: PathBuf,
    /// Oldest event time `POST /v1/events` accepts, in days before now (the retention window):
    /// older events are a 400, so no client can scatter rows over years of partitions.
    #[arg(long, env = "EMBAN_INGEST_MAX_AGE_DAYS", default_value_t = DEFAULT_INGEST_MAX_AGE_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub ingest_max_age_days: u32,
    /// Furthest event time `POST /v1/events` accepts, in seconds after now (clock skew allowance).
    #[arg(long, env = "EMBAN_INGEST_MAX_FUTURE_SECS", default_value_t = DEFAULT_INGEST_MAX_FUTURE_SECS,
          value_parser = clap::value_parser!(u32).range(0..=31_536_000))]
    pub ingest_max_future_secs: u32,
}

/// Default of `--ingest-max-age-days`.
pub const DEFAULT_INGEST_MAX_AGE_DAYS: u32 = 400;
/// Default of `--ingest-max-future-secs`: one day.
pub const DEFAULT_INGEST_MAX_FUTURE_SECS: u32 = 86_400;

impl ServeArgs {
    /// Defaults for a server in `data_dir`, as tests and benchmarks use it.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        ServeArgs {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            public_url: None,
            events_store: EventsBackend::Duckdb,
            events_url: None,
            demo: false,
            duckdb_memory_limit: "1GB".to_owned(),
            duckdb_daily_rollup: false,
            signing_secret: None,
            runtime_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../dist")),
            www_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../www")),
            helper_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../embed-helper/pkg")),
            ingest_max_age_days: DEFAULT_INGEST_MAX_AGE_DAYS,
            ingest_max_future_secs: DEFAULT_INGEST_MAX_FUTURE_SECS,
        }
    }
}
