//! The gates: what each plan limit counts, its 402 code and message, and the [`Cap`] a gated
//! write takes. Every gate answers with the reference's plan-limit body (`AppError::PaymentRequired`).
//!
//! A counted gate is used like this, so the count and the write are one atomic store operation:
//!
//! ```ignore
//! let cap = billing.cap(org_id, Gate::Alerts).await?;     // the plan's limit, or unlimited
//! match store.create_alert_capped(&rule, cap.limit()).await? {   // the store counts and writes
//!     Capped::Done(rule) => rule,
//!     Capped::OverLimit { used } => return Err(cap.refuse(used)),  // the 402
//! }
//! ```
//!
//! Where a store cannot count and write at once, `Billing::check(org_id, gate, used)` refuses
//! when `used` already reaches the limit (a plain check, not atomic).

use contract::embed::EmbedPermissions;

use crate::{
    billing::plans::{EmbedFeatures, PlanId, PlanSpec},
    error::{AppError, PlanLimit},
    meta::billing::Capped,
};

/// A plan gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Publishing a dashboard.
    PublishedDashboards,
    /// Creating an API key.
    ApiKeys,
    /// Inviting a member (members plus pending invites).
    Members,
    /// Minting an embed session with advanced permissions.
    AdvancedEmbedPermissions,
    /// Ingesting events past the month's cap.
    EventsMonthly,
    /// Creating an alert rule.
    Alerts,
    /// Creating a scheduled report.
    Reports,
}

impl Gate {
    /// The 402's `code`.
    pub fn code(self) -> &'static str {
        match self {
            Gate::PublishedDashboards => "published_dashboards_limit",
            Gate::ApiKeys => "api_keys_limit",
            Gate::Members => "members_limit",
            Gate::AdvancedEmbedPermissions => "advanced_embed_permissions",
            Gate::EventsMonthly => "events_monthly_limit",
            Gate::Alerts => "alerts_limit",
            Gate::Reports => "reports_limit",
        }
    }

    /// The 402's `error`.
    fn message(self) -> &'static str {
        match self {
            Gate::PublishedDashboards => "published dashboard limit reached for this plan",
            Gate::ApiKeys => "API key limit reached for this plan",
            Gate::Members => "member limit reached for this plan (members and pending invites count)",
            Gate::AdvancedEmbedPermissions => "advanced embed permissions are not included in this plan",
            Gate::EventsMonthly => "monthly event limit reached for this plan: the batch was not stored",
            Gate::Alerts => "alert limit reached for this plan",
            Gate::Reports => "report limit reached for this plan",
        }
    }

    /// The plan's limit at this counted gate (`None`: unlimited). The embed-permissions gate is
    /// a feature, not a count: `None`.
    pub fn limit_in(self, spec: &PlanSpec) -> Option<i64> {
        let l = &spec.limits;
        match self {
            Gate::PublishedDashboards => l.published_dashboards,
            Gate::ApiKeys => l.api_keys,
            Gate::Members => l.members,
            Gate::EventsMonthly => l.events_per_month,
            Gate::Alerts => l.alerts,
            Gate::Reports => l.reports,
            Gate::AdvancedEmbedPermissions => None,
        }
    }
}

/// The 402 of `gate` on `plan`.
pub fn refusal(plan: PlanId, gate: Gate, limit: i64, used: i64, detail: Option<String>) -> AppError {
    let message = match detail {
        Some(detail) => format!("{}: {detail}", gate.message()),
        None => gate.message().to_owned(),
    };
    AppError::PaymentRequired(Box::new(PlanLimit {
        message,
        code: gate.code(),
        plan: plan.as_str(),
        upgrade_to: plan.upgrade_to().map(PlanId::as_str),
        limit,
        used,
    }))
}

/// One counted gate's limit for one org, as a gated write takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap {
    /// The org's plan.
    pub plan: PlanId,
    /// The gate.
    pub gate: Gate,
    limit: Option<i64>,
}

impl Cap {
    /// A cap of `limit` (`None`: unlimited).
    pub fn new(plan: PlanId, gate: Gate, limit: Option<i64>) -> Self {
        Cap { plan, gate, limit }
    }

    /// What the store may hold at most; `None` is unlimited (the write is not counted).
    pub fn limit(&self) -> Option<i64> {
        self.limit
    }

    /// The 402 for a refused write that found `used` in use.
    pub fn refuse(&self, used: i64) -> AppError {
        refusal(self.plan, self.gate, self.limit.unwrap_or(0), used, None)
    }

    /// The value of a capped write, or its 402.
    pub fn enforce<T>(&self, outcome: Capped<T>) -> crate::error::Result<T> {
        match outcome {
            Capped::Done(value) => Ok(value),
            Capped::OverLimit { used } => Err(self.refuse(used)),
        }
    }

    /// Refuses when `used` already reaches the limit (a plain check, for stores that cannot
    /// count and write in one step).
    pub fn check(&self, used: i64) -> crate::error::Result<()> {
        match self.limit {
            Some(limit) if used >= limit => Err(self.refuse(used)),
            _ => Ok(()),
        }
    }
}

/// The advanced permissions a session asks for that `features` does not allow, by field name.
pub fn disallowed_permissions(permissions: &EmbedPermissions, features: &EmbedFeatures) -> Vec<&'static str> {
    let asks = [
        ("locked_filters", !permissions.locked_filters.is_empty(), features.locked_filters),
        ("hidden_widgets", !permissions.hidden_widgets.is_empty(), features.hidden_widgets),
        ("allowed_dimensions", permissions.allowed_dimensions.is_some(), features.allowed_dimensions),
        ("allowed_periods", permissions.allowed_periods.is_some(), features.allowed_periods),
        ("max_date_range_days", permissions.max_date_range_days.is_some(), features.max_date_range_days),
    ];
    asks.into_iter().filter(|(_, asked, allowed)| *asked && !*allowed).map(|(name, _, _)| name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::plans::Plans;

    #[test]
    fn a_refusal_has_the_reference_shape() {
        let AppError::PaymentRequired(body) =
            Cap::new(PlanId::Free, Gate::PublishedDashboards, Some(1)).refuse(1)
        else {
            panic!("not a 402");
        };
        let json = serde_json::to_value(&body).expect("serializable");
        assert_eq!(
            json,
            serde_json::json!({
                "error": "published dashboard limit reached for this plan",
                "code": "published_dashboards_limit",
                "plan": "free",
                "upgrade_to": "starter",
                "limit": 1,
                "used": 1
            })
        );
    }

    #[test]
    fn only_what_the_plan_lacks_is_disallowed() {
        let plans = Plans::default();
        let permissions: EmbedPermissions = serde_json::from_value(serde_json::json!({
            "locked_filters": {"plan": "pro"}, "allowed_periods": ["7d"]
        }))
        .expect("permissions");
        assert_eq!(
            disallowed_permissions(&permissions, &plans.spec(PlanId::Free).features),
            ["locked_filters", "allowed_periods"]
        );
        assert_eq!(
            disallowed_permissions(&permissions, &plans.spec(PlanId::Starter).features),
            ["allowed_periods"]
        );
        assert!(disallowed_permissions(&permissions, &plans.spec(PlanId::Pro).features).is_empty());
        assert!(
            disallowed_permissions(&EmbedPermissions::default(), &plans.spec(PlanId::Free).features)
                .is_empty()
        );
    }
}
