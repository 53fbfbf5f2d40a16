//! Deterministic sample events: the demo org's data and the benchmarks' load.

use chrono::{DateTime, Duration, Utc};
use contract::events::IngestEvent;
use rand::{Rng, SeedableRng, rngs::StdRng};

/// Models a sample `api.call` uses.
pub const MODELS: &[&str] = &["gpt-4", "gpt-4o-mini", "claude-3", "llama-3"];
/// Endpoints a sample `api.call` uses.
pub const ENDPOINTS: &[&str] = &["/chat", "/completions", "/embeddings"];
const PLANS: &[&str] = &["free", "starter", "pro", "enterprise"];
const SOURCES: &[&str] = &["organic", "ads", "referral", "partner"];
const PAGES: &[&str] = &["/", "/pricing", "/docs", "/dashboard", "/settings"];

/// `n` tenants whose sizes follow a Zipf-like law (weight of rank r is 1/r), largest first.
pub fn zipf_tenants(prefix: &str, n: usize) -> Vec<(String, f64)> {
    (1..=n).map(|r| (format!("{prefix}{r:04}"), 1.0 / r as f64)).collect()
}

/// A reproducible stream of events.
pub struct SampleGenerator {
    rng: StdRng,
    cumulative: Vec<f64>,
    tenants: Vec<String>,
    end: DateTime<Utc>,
    span_secs: i64,
    /// Share of events that are `api.call`; the rest are page views, signups and invoices.
    pub api_share: f64,
    /// Whether events carry a client `event_id`.
    pub with_event_ids: bool,
    next_id: u64,
}

impl SampleGenerator {
    /// Events from `days` days before `end` up to `end`, over weighted tenants.
    pub fn new(seed: u64, tenants: &[(String, f64)], days: i64, end: DateTime<Utc>) -> Self {
        let mut total = 0.0;
        let cumulative = tenants
            .iter()
            .map(|(_, w)| {
                total += w;
                total
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|c| c / total)
            .collect();
        SampleGenerator {
            rng: StdRng::seed_from_u64(seed),
            cumulative,
            tenants: tenants.iter().map(|(t, _)| t.clone()).collect(),
            end,
            span_secs: days * 86_400,
            api_share: 0.7,
            with_event_ids: false,
            next_id: seed << 40,
        }
    }

    fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[self.rng.gen_range(0..options.len())]
    }

    /// The next event.
    pub fn next_event(&mut self) -> IngestEvent {
        let u: f64 = self.rng.r#gen();
        let t = self.cumulative.partition_point(|c| *c < u).min(self.tenants.len() - 1);
        let tenant_id = self.tenants[t].clone();
        let ts = self.end - Duration::seconds(self.rng.gen_range(0..self.span_secs.max(1)));
        let user_id = Some(format!("user_{}", self.rng.gen_range(0..500)));
        let kind: f64 = self.rng.r#gen();
        let mut event = IngestEvent {
            tenant_id,
            timestamp: Some(crate::time::timestamp(ts)),
            user_id,
            ..Default::default()
        };
        if kind < self.api_share {
            event.event_name = "api.call".into();
            let model = self.pick(MODELS);
            let endpoint = self.pick(ENDPOINTS);
            let status = if self.rng.gen_bool(0.97) { "success" } else { "error" };
            let plan = self.pick(PLANS);
            let tokens = self.rng.gen_range(20..4000) as f64;
            let latency = 40.0 + self.rng.r#gen::<f64>().powi(3) * 3000.0;
            event.string_props = Some(
                [("model", model), ("endpoint", endpoint), ("status", status), ("plan", plan)]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            );
            event.numeric_props = Some(
                [("tokens".to_owned(), tokens), ("latency_ms".to_owned(), (latency * 10.0).round() / 10.0)]
                    .into_iter()
                    .collect(),
            );
        } else if kind < self.api_share + (1.0 - self.api_share) * 0.6 {
            event.event_name = "page.view".into();
            let page = self.pick(PAGES);
            let source = self.pick(SOURCES);
            event.string_props =
                Some([("page".to_owned(), page.to_owned()), ("source".to_owned(), source.to_owned())].into());
            event.numeric_props =
                Some([("duration_ms".to_owned(), self.rng.gen_range(200..60_000) as f64)].into());
        } else if kind < self.api_share + (1.0 - self.api_share) * 0.85 {
            event.event_name = "user.signup".into();
            let plan = self.pick(PLANS);
            let source = self.pick(SOURCES);
            event.string_props =
                Some([("plan".to_owned(), plan.to_owned()), ("source".to_owned(), source.to_owned())].into());
        } else {
            event.event_name = "invoice.paid".into();
            let plan = self.pick(PLANS);
            event.string_props = Some([("plan".to_owned(), plan.to_owned())].into());
            event.numeric_props =
                Some([("amount".to_owned(), f64::from(self.rng.gen_range(9..2000)))].into());
        }
        if self.with_event_ids {
            self.next_id += 1;
            event.event_id = Some(format!("evt_{:x}", self.next_id));
        }
        event
    }
}
