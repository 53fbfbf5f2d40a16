//! The plans: `free`, `starter`, `pro` and the unlimited `self_hosted`, each with its limits and
//! embed features. Defaults are built in; a JSON file (`--billing-plans`) may override any of
//! them (format in docs/billing.md).

use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Deserializer, Serialize};

/// A plan's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanId {
    /// Where a new org starts when billing is on.
    Free,
    /// The first paid plan.
    Starter,
    /// The largest paid plan.
    Pro,
    /// Everything, unlimited: every org when billing is off.
    SelfHosted,
}

impl PlanId {
    /// Every plan, smallest first.
    pub const ALL: [PlanId; 4] = [PlanId::Free, PlanId::Starter, PlanId::Pro, PlanId::SelfHosted];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanId::Free => "free",
            PlanId::Starter => "starter",
            PlanId::Pro => "pro",
            PlanId::SelfHosted => "self_hosted",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Self> {
        PlanId::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The plan a 402 suggests: the next one up (none above `pro`; `self_hosted` is not sold).
    pub fn upgrade_to(self) -> Option<PlanId> {
        match self {
            PlanId::Free => Some(PlanId::Starter),
            PlanId::Starter => Some(PlanId::Pro),
            PlanId::Pro | PlanId::SelfHosted => None,
        }
    }
}

/// A plan's counted limits; `None` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanLimits {
    /// Dashboards published at once, all environments together.
    pub published_dashboards: Option<i64>,
    /// Unrevoked API keys (the default admin key counts).
    pub api_keys: Option<i64>,
    /// Members plus pending invites (an invite holds a seat until it is accepted, cancelled or
    /// expires).
    pub members: Option<i64>,
    /// Events stored per calendar month (UTC), all environments together.
    pub events_per_month: Option<i64>,
    /// Alert rules.
    pub alerts: Option<i64>,
    /// Scheduled reports.
    pub reports: Option<i64>,
}

/// Which advanced embed permissions a plan allows in a minted session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedFeatures {
    /// `permissions.locked_filters`.
    pub locked_filters: bool,
    /// `permissions.hidden_widgets`.
    pub hidden_widgets: bool,
    /// `permissions.allowed_dimensions`.
    pub allowed_dimensions: bool,
    /// `permissions.allowed_periods`.
    pub allowed_periods: bool,
    /// `permissions.max_date_range_days`.
    pub max_date_range_days: bool,
}

impl EmbedFeatures {
    const ALL: EmbedFeatures = EmbedFeatures {
        locked_filters: true,
        hidden_widgets: true,
        allowed_dimensions: true,
        allowed_periods: true,
        max_date_range_days: true,
    };
}

/// One plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanSpec {
    /// Its id.
    pub id: PlanId,
    /// Display name.
    pub name: String,
    /// Its limits.
    pub limits: PlanLimits,
    /// Its embed features.
    pub features: EmbedFeatures,
    /// The next plan up, if any.
    pub upgrade_to: Option<PlanId>,
}

/// Every plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plans {
    specs: Vec<PlanSpec>,
}

impl Default for Plans {
    /// The built-in plans (docs/billing.md, "Plans").
    fn default() -> Self {
        let spec = |id: PlanId, name: &str, limits: [Option<i64>; 6], features: EmbedFeatures| PlanSpec {
            id,
            name: name.to_owned(),
            limits: PlanLimits {
                published_dashboards: limits[0],
                api_keys: limits[1],
                members: limits[2],
                events_per_month: limits[3],
                alerts: limits[4],
                reports: limits[5],
            },
            features,
            upgrade_to: id.upgrade_to(),
        };
        let none = EmbedFeatures {
            locked_filters: false,
            hidden_widgets: false,
            allowed_dimensions: false,
            allowed_periods: false,
            max_date_range_days: false,
        };
        let starter = EmbedFeatures { locked_filters: true, hidden_widgets: true, ..none };
        Plans {
            specs: vec![
                spec(
                    PlanId::Free,
                    "Free",
                    [Some(1), Some(3), Some(3), Some(100_000), Some(1), Some(0)],
                    none,
                ),
                spec(
                    PlanId::Starter,
                    "Starter",
                    [Some(10), Some(10), Some(10), Some(5_000_000), Some(10), Some(5)],
                    starter,
                ),
                spec(
                    PlanId::Pro,
                    "Pro",
                    [Some(100), Some(50), Some(50), Some(50_000_000), Some(100), Some(50)],
                    EmbedFeatures::ALL,
                ),
                spec(PlanId::SelfHosted, "Self-hosted", [None; 6], EmbedFeatures::ALL),
            ],
        }
    }
}

/// Reads a present value, so `Option<Option<T>>` tells "left out" (`None`) from `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// One plan's overrides in the config file; what is left out keeps its default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanOverride {
    name: Option<String>,
    #[serde(default)]
    limits: LimitsOverride,
    features: Option<FeaturesOverride>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsOverride {
    #[serde(default, deserialize_with = "present")]
    published_dashboards: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    api_keys: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    members: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    events_per_month: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    alerts: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    reports: Option<Option<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeaturesOverride {
    locked_filters: Option<bool>,
    hidden_widgets: Option<bool>,
    allowed_dimensions: Option<bool>,
    allowed_periods: Option<bool>,
    max_date_range_days: Option<bool>,
}

/// The config file: `{"plans": {"free": {...}, "starter": {...}, "pro": {...}}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlansFile {
    plans: std::collections::BTreeMap<String, PlanOverride>,
}

impl Plans {
    /// The built-in plans with the overrides of the JSON file at `path`, if given.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Plans> {
        let Some(path) = path else { return Ok(Plans::default()) };
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Plans::from_json(&text).with_context(|| format!("in the plans file {}", path.display()))
    }

    /// The built-in plans with the overrides in `text` (the config file's format).
    pub fn from_json(text: &str) -> anyhow::Result<Plans> {
        let file: PlansFile = serde_json::from_str(text).context("parsing the plans file")?;
        let mut plans = Plans::default();
        for (id, o) in file.plans {
            let plan = match PlanId::parse(&id) {
                Some(PlanId::SelfHosted) => {
                    bail!("plans.self_hosted: the self-hosted plan is always unlimited")
                }
                Some(plan) => plan,
                None => bail!("plans.{id}: unknown plan; the plans are free, starter and pro"),
            };
            let spec = plans.specs.iter_mut().find(|s| s.id == plan).context("built-in plan missing")?;
            if let Some(name) = o.name {
                spec.name = name;
            }
            let l = &mut spec.limits;
            for (field, given, slot) in [
                ("published_dashboards", o.limits.published_dashboards, &mut l.published_dashboards),
                ("api_keys", o.limits.api_keys, &mut l.api_keys),
                ("members", o.limits.members, &mut l.members),
                ("events_per_month", o.limits.events_per_month, &mut l.events_per_month),
                ("alerts", o.limits.alerts, &mut l.alerts),
                ("reports", o.limits.reports, &mut l.reports),
            ] {
                if let Some(value) = given {
                    if value.is_some_and(|v| v < 0) {
                        bail!(
                            "plans.{id}.limits.{field}: must be a count of at least 0, or null for unlimited"
                        );
                    }
                    *slot = value;
                }
            }
            if let Some(f) = o.features {
                let features = &mut spec.features;
                for (given, slot) in [
                    (f.locked_filters, &mut features.locked_filters),
                    (f.hidden_widgets, &mut features.hidden_widgets),
                    (f.allowed_dimensions, &mut features.allowed_dimensions),
                    (f.allowed_periods, &mut features.allowed_periods),
                    (f.max_date_range_days, &mut features.max_date_range_days),
                ] {
                    if let Some(value) = given {
                        *slot = value;
                    }
                }
            }
        }
        Ok(plans)
    }

    /// The spec of `plan`.
    pub fn spec(&self, plan: PlanId) -> &PlanSpec {
        // Every id has a spec: the list is built from `PlanId::ALL` and never shrinks.
        self.specs.iter().find(|s| s.id == plan).unwrap_or(&self.specs[self.specs.len() - 1])
    }

    /// Every plan, smallest first.
    pub fn all(&self) -> &[PlanSpec] {
        &self.specs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_cover_every_plan_and_self_hosted_is_unlimited() {
        let plans = Plans::default();
        for id in PlanId::ALL {
            assert_eq!(plans.spec(id).id, id);
        }
        let hosted = plans.spec(PlanId::SelfHosted);
        assert_eq!(hosted.limits.published_dashboards, None);
        assert_eq!(hosted.limits.events_per_month, None);
        assert_eq!(hosted.features, EmbedFeatures::ALL);
        assert_eq!(plans.spec(PlanId::Free).upgrade_to, Some(PlanId::Starter));
    }

    #[test]
    fn the_file_overrides_only_what_it_names() {
        let plans = Plans::from_json(
            r#"{"plans": {"free": {"limits": {"published_dashboards": 2, "alerts": null},
                                   "features": {"hidden_widgets": true}}}}"#,
        )
        .expect("valid file");
        let free = plans.spec(PlanId::Free);
        assert_eq!(free.limits.published_dashboards, Some(2));
        assert_eq!(free.limits.alerts, None, "null is unlimited");
        assert_eq!(free.limits.api_keys, Plans::default().spec(PlanId::Free).limits.api_keys);
        assert!(free.features.hidden_widgets);
        assert!(!free.features.locked_filters);
        assert_eq!(plans.spec(PlanId::Pro), Plans::default().spec(PlanId::Pro));
    }

    #[test]
    fn bad_files_name_the_problem() {
        for (text, needle) in [
            (r#"{"plans": {"gold": {}}}"#, "plans.gold"),
            (r#"{"plans": {"self_hosted": {}}}"#, "self_hosted"),
            (r#"{"plans": {"free": {"limits": {"members": -1}}}}"#, "plans.free.limits.members"),
            (r#"{"plans": {"free": {"limits": {"seats": 1}}}}"#, "seats"),
        ] {
            let error = format!("{:#}", Plans::from_json(text).expect_err(text));
            assert!(error.contains(needle), "{error} should name {needle}");
        }
    }
}
