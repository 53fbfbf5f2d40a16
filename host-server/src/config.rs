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
    /// Seed a demo org with sample events on first start and serve its public embed URL
    /// (`GET /v1/demo/embed-url`). Off unless asked for; `scripts/run.sh` turns it on.
    #[arg(long, env = "EMBAN_DEMO", default_value_t = false, action = clap::ArgAction::Set)]
    pub demo: bool,
    /// Keep the DuckDB store's daily rollup (counts per tenant, event, day and common dimension),
    /// so whole-day `count` queries read it instead of events: much faster for large tenants, at
    /// a measured 30-40% of ingest throughput with many small tenants (BENCHMARKS.md). Off drops
    /// it; turning it on rebuilds it from the stored events.
    #[arg(long, env = "EMBAN_DUCKDB_DAILY_ROLLUP", default_value_t = false, action = clap::ArgAction::Set)]
    pub duckdb_daily_rollup: bool,
    /// Memory limit for DuckDB, e.g. `1GB`. The default keeps the whole server under 1 GiB even
    /// while ad-hoc SQL builds values as large as DuckDB allows (strings outside its buffer pool
    /// overshoot the limit by up to half again; `tests/api/adhoc_limits.rs`); larger limits speed
    /// up aggregations that would otherwise spill to disk.
    #[arg(long, env = "EMBAN_DUCKDB_MEMORY_LIMIT", default_value = "512MB")]
    pub duckdb_memory_limit: String,
    /// How much of DuckDB's WAL accumulates before the events database's checkpointer writes it
    /// into the table files, beside the loads (`docs/ingest.md`). Every load is in the fsynced
    /// WAL either way; a smaller threshold means shorter checkpoints and a shorter WAL replay at
    /// start after a crash (about 0.35 s for 40 MiB measured; a clean stop checkpoints first).
    /// DuckDB itself never checkpoints on a commit (its own threshold is set to 1 TB).
    #[arg(long, env = "EMBAN_DUCKDB_CHECKPOINT_THRESHOLD",
          default_value = crate::events::duckdb::DEFAULT_CHECKPOINT_THRESHOLD)]
    pub duckdb_checkpoint_threshold: String,
    /// How many UTC days of arrival a client `event_id` is remembered for de-duplication (1 to
    /// 366): a repeat that arrives within the window is skipped, a later one is stored again.
    /// Memory and start-up time grow with the ids of the window, not with history.
    #[arg(long, env = "EMBAN_DEDUP_WINDOW_DAYS", default_value_t = 7,
          value_parser = clap::value_parser!(u32).range(1..=366))]
    pub dedup_window_days: u32,
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
    /// Ad-hoc SQL queries running at once over all orgs (default: half the cores, at least 1),
    /// so dashboards and embeds always keep the rest.
    #[arg(long, env = "EMBAN_ADHOC_CONCURRENCY")]
    pub adhoc_concurrency: Option<usize>,
    /// Ad-hoc SQL queries one org may run at once; more wait up to 5 s, then get a 429.
    #[arg(long, env = "EMBAN_ADHOC_CONCURRENCY_PER_ORG", default_value_t = 1)]
    pub adhoc_concurrency_per_org: usize,
    /// Oldest event time `POST /v1/events` accepts, in days before now (the retention window):
    /// older events are a 400, so no client can scatter rows over years of partitions.
    #[arg(long, env = "EMBAN_INGEST_MAX_AGE_DAYS", default_value_t = DEFAULT_INGEST_MAX_AGE_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub ingest_max_age_days: u32,
    /// Furthest event time `POST /v1/events` accepts, in seconds after now (clock skew allowance).
    #[arg(long, env = "EMBAN_INGEST_MAX_FUTURE_SECS", default_value_t = DEFAULT_INGEST_MAX_FUTURE_SECS,
          value_parser = clap::value_parser!(u32).range(0..=31_536_000))]
    pub ingest_max_future_secs: u32,
    /// How long an invite link works, in days.
    #[arg(long, env = "EMBAN_INVITE_TTL_DAYS", default_value_t = DEFAULT_INVITE_TTL_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=90))]
    pub invite_ttl_days: u32,
    /// Mail server for invites (and later alerts and reports): `smtp://host:port` (plain, a local
    /// relay), `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://user:pass@host:465`
    /// (TLS). Without it the invite's link in the response is the delivery.
    #[arg(long, env = "EMBAN_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// Sender of the server's mail.
    #[arg(long, env = "EMBAN_SMTP_FROM", default_value = "Emban <no-reply@emban.local>")]
    pub smtp_from: String,
    /// Networks webhooks may be delivered to although the SSRF guard refuses them (private,
    /// loopback...), comma-separated, e.g. `10.0.0.0/8,127.0.0.1/32`: for self-hosters whose
    /// receivers live inside their network. Empty: public addresses only (docs/alerts.md).
    #[arg(long, env = "EMBAN_WEBHOOK_ALLOW_CIDRS", value_delimiter = ',')]
    pub webhook_allow_cidrs: Vec<ipnet::IpNet>,
    /// Delays between webhook attempts, comma-separated (`30s`, `5m`, `1h`, `1d`); the default
    /// makes 8 attempts over about 22 hours.
    #[arg(long, env = "EMBAN_WEBHOOK_RETRY_SCHEDULE", default_value = DEFAULT_WEBHOOK_RETRY_SCHEDULE)]
    pub webhook_retry_schedule: String,
    /// How often each enabled alert is evaluated, in seconds.
    #[arg(long, env = "EMBAN_ALERT_INTERVAL_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(10..=86_400))]
    pub alert_interval_secs: u32,
    /// Tests only: freeze the scheduler's clock at this RFC 3339 instant (or `now`); it then
    /// moves only when the test advances it, and the scheduler ticks only when driven
    /// (docs/alerts.md, "Testing with a frozen clock").
    #[arg(long, env = "EMBAN_TEST_CLOCK", hide = true)]
    pub test_clock: Option<String>,
    /// Abuse limits (docs/api.md, "Abuse limits").
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Plans and Paddle billing (docs/billing.md).
    #[command(flatten)]
    pub billing: BillingArgs,
}

/// Paddle's environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum PaddleEnvironment {
    /// Paddle's sandbox (test cards, `sandbox-api.paddle.com`).
    #[default]
    Sandbox,
    /// Live payments (`api.paddle.com`).
    Production,
}

/// Plans and Paddle billing (docs/billing.md). Billing is off, and every org unlimited
/// (`self_hosted`), unless `--billing-enforce` is on or a Paddle key or token is given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct BillingArgs {
    /// Enforce plan limits (new orgs start on `free`) even without Paddle.
    #[arg(long, env = "EMBAN_BILLING_ENFORCE", default_value_t = false, action = clap::ArgAction::Set)]
    pub billing_enforce: bool,
    /// A JSON file overriding the built-in plans' limits and features (docs/billing.md).
    #[arg(long, env = "EMBAN_BILLING_PLANS")]
    pub billing_plans: Option<PathBuf>,
    /// Paddle API key (server side): customer portal sessions.
    #[arg(long, env = "PADDLE_API_KEY", hide_env_values = true)]
    pub paddle_api_key: Option<Secret>,
    /// Paddle client-side token: given to the admin app for Paddle.js checkout.
    #[arg(long, env = "PADDLE_CLIENT_TOKEN")]
    pub paddle_client_token: Option<String>,
    /// The secret key of the Paddle notification destination: verifies `POST /webhooks/paddle`.
    #[arg(long, env = "PADDLE_NOTIFICATION_KEY", hide_env_values = true)]
    pub paddle_notification_key: Option<Secret>,
    /// Paddle environment.
    #[arg(long, env = "PADDLE_ENVIRONMENT", value_enum, default_value = "sandbox")]
    pub paddle_environment: PaddleEnvironment,
    /// Paddle's API base URL; defaults to the environment's (`https://sandbox-api.paddle.com`,
    /// `https://api.paddle.com`).
    #[arg(long, env = "PADDLE_API_URL")]
    pub paddle_api_url: Option<String>,
    /// Price id (`pri_...`) of the `starter` plan.
    #[arg(long, env = "PADDLE_PRICE_STARTER")]
    pub paddle_price_starter: Option<String>,
    /// Price id (`pri_...`) of the `pro` plan.
    #[arg(long, env = "PADDLE_PRICE_PRO")]
    pub paddle_price_pro: Option<String>,
    /// Accepted age of a webhook's `Paddle-Signature` timestamp, in seconds.
    #[arg(long, env = "PADDLE_WEBHOOK_TOLERANCE_SECS", default_value_t = 300)]
    pub paddle_webhook_tolerance_secs: u64,
}

/// Default of `--webhook-retry-schedule`: 8 attempts over about 22 hours.
pub const DEFAULT_WEBHOOK_RETRY_SCHEDULE: &str = "1m,5m,30m,1h,3h,6h,12h";

/// Abuse limits: rate limits, the password-hashing pool and failed-login backoff. A rate of 0
/// turns that limit off.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct LimitArgs {
    /// Sign-in and sign-up requests (login, register, accept-invite) per minute from one client
    /// IP, all three counted together.
    #[arg(long, env = "EMBAN_RATE_LIMIT_AUTH_PER_MINUTE", default_value_t = 60)]
    pub rate_limit_auth_per_minute: u32,
    /// Demo embed URLs (`GET /v1/demo/embed-url`) per minute from one client IP.
    #[arg(long, env = "EMBAN_RATE_LIMIT_DEMO_PER_MINUTE", default_value_t = 30)]
    pub rate_limit_demo_per_minute: u32,
    /// Demo embed URLs per minute from all clients together.
    #[arg(long, env = "EMBAN_RATE_LIMIT_DEMO_TOTAL_PER_MINUTE", default_value_t = 600)]
    pub rate_limit_demo_total_per_minute: u32,
    /// Ingest requests (`POST /v1/events`) per second with one API key.
    #[arg(long, env = "EMBAN_RATE_LIMIT_INGEST_PER_SECOND", default_value_t = 1000)]
    pub rate_limit_ingest_per_second: u32,
    /// Password hashes (argon2, 19 MiB each) computed at once; 0 means one per CPU core.
    #[arg(long, env = "EMBAN_PASSWORD_HASH_CONCURRENCY", default_value_t = 0)]
    pub password_hash_concurrency: usize,
    /// Sign-ins and sign-ups that may wait for a hashing slot; past it they get 429 at once.
    #[arg(long, env = "EMBAN_PASSWORD_HASH_QUEUE", default_value_t = 256)]
    pub password_hash_queue: usize,
    /// Seconds a sign-in or sign-up waits for a hashing slot before it gets 429.
    #[arg(long, env = "EMBAN_PASSWORD_HASH_WAIT_SECS", default_value_t = 10)]
    pub password_hash_wait_secs: u64,
    /// Failed sign-ins to one email before it backs off (1 s, then doubling per failure).
    #[arg(long, env = "EMBAN_LOGIN_BACKOFF_AFTER", default_value_t = 5)]
    pub login_backoff_after: u32,
    /// Longest failed-sign-in backoff, in seconds.
    #[arg(long, env = "EMBAN_LOGIN_BACKOFF_MAX_SECS", default_value_t = 900)]
    pub login_backoff_max_secs: u64,
    /// Newest demo-session audit rows kept; older ones are deleted as new ones arrive.
    #[arg(long, env = "EMBAN_DEMO_AUDIT_ROWS", default_value_t = 10_000)]
    pub demo_audit_rows: u32,
    /// Take the client IP from the last `X-Forwarded-For` entry (set this only behind a reverse
    /// proxy that appends it); by default the client IP is the connection's peer address.
    #[arg(long, env = "EMBAN_TRUST_FORWARDED_FOR", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_forwarded_for: bool,
}

impl Default for LimitArgs {
    /// The flags' defaults.
    fn default() -> Self {
        LimitArgs {
            rate_limit_auth_per_minute: 60,
            rate_limit_demo_per_minute: 30,
            rate_limit_demo_total_per_minute: 600,
            rate_limit_ingest_per_second: 1000,
            password_hash_concurrency: 0,
            password_hash_queue: 256,
            password_hash_wait_secs: 10,
            login_backoff_after: 5,
            login_backoff_max_secs: 900,
            demo_audit_rows: 10_000,
            trust_forwarded_for: false,
        }
    }
}

/// Days an invite link works unless `--invite-ttl-days` says otherwise.
pub const DEFAULT_INVITE_TTL_DAYS: u32 = 7;

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
            duckdb_memory_limit: "512MB".to_owned(),
            duckdb_checkpoint_threshold: crate::events::duckdb::DEFAULT_CHECKPOINT_THRESHOLD.to_owned(),
            duckdb_daily_rollup: false,
            dedup_window_days: 7,
            signing_secret: None,
            runtime_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../dist")),
            www_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../www")),
            helper_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../embed-helper/pkg")),
            adhoc_concurrency: None,
            adhoc_concurrency_per_org: 1,
            limits: LimitArgs::default(),
            ingest_max_age_days: DEFAULT_INGEST_MAX_AGE_DAYS,
            ingest_max_future_secs: DEFAULT_INGEST_MAX_FUTURE_SECS,
            invite_ttl_days: DEFAULT_INVITE_TTL_DAYS,
            smtp_url: None,
            smtp_from: "Emban <no-reply@emban.local>".to_owned(),
            billing: BillingArgs { paddle_webhook_tolerance_secs: 300, ..BillingArgs::default() },
            webhook_allow_cidrs: Vec::new(),
            webhook_retry_schedule: DEFAULT_WEBHOOK_RETRY_SCHEDULE.to_owned(),
            alert_interval_secs: 60,
            test_clock: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn limit_defaults_match_the_flags_and_the_demo_is_off() {
        let cli = Cli::try_parse_from(["emban"]).expect("no flags needed");
        assert_eq!(cli.serve.limits, LimitArgs::default());
        assert!(!cli.serve.demo, "the demo is opt-in");
    }
}
