//! Reads: the planner's choice of table, the SQL of a query, and event discovery.

use super::*;

/// Picks the table for a query: ClickHouse rollups answer `count` and `count_unique_approx`
/// (merged HyperLogLog states); exact `count_unique` reads events (see [`RollupSchema::exact`]).
pub fn plan(spec: &QuerySpec, ranges: &[NumericRangeFilter]) -> Plan {
    planner::plan(spec, ranges, RollupMetrics { hourly: true, approx_unique: true, exact_unique: false })
}

/// Bucket start in epoch microseconds, from a DateTime column.
pub(super) fn bucket_expr(g: Option<Granularity>, column: &str) -> String {
    let seconds = match g {
        None => return "CAST(NULL AS Nullable(Int64))".to_owned(),
        Some(Granularity::Hour) => format!("toStartOfHour({column})"),
        Some(Granularity::Day) => format!("toStartOfDay({column})"),
        Some(Granularity::Week) => format!("toDateTime(toMonday({column}), 'UTC')"),
        Some(Granularity::Month) => format!("toDateTime(toStartOfMonth({column}), 'UTC')"),
    };
    format!("toInt64(toUnixTimestamp({seconds})) * 1000000")
}

pub(super) fn string_prop_expr(key: &str) -> String {
    if MATERIALIZED_STRING_PROPS.contains(&key) {
        format!("s_{key}")
    } else {
        let k = literal(key);
        format!("if(has(sp_keys, {k}), sp_vals[indexOf(sp_keys, {k})], NULL)")
    }
}

pub(super) fn numeric_prop_expr(key: &str) -> String {
    if MATERIALIZED_NUMERIC_PROPS.contains(&key) {
        format!("n_{key}")
    } else {
        let k = literal(key);
        format!("if(has(np_keys, {k}), np_vals[indexOf(np_keys, {k})], NULL)")
    }
}

/// Linear-interpolation quantile (DuckDB's `quantile_cont`, R-7) over the sorted non-null values;
/// exact on 18.16, which has no `quantileExactInclusive`.
pub(super) fn quantile_expr(x: &str, p: f64) -> String {
    let h = format!("((length(_qa) - 1) * {p})");
    let lo = format!("toUInt64(floor({h}))");
    format!(
        "if(length(arraySort(groupArray({x})) AS _qa) = 0, NULL, \
         _qa[{lo} + 1] + ({h} - floor({h})) * (_qa[least({lo} + 2, toUInt64(length(_qa)))] - _qa[{lo} + 1]))"
    )
}

pub(super) fn scope_and_window(scope: StoreScope, spec: &QuerySpec, ts: &str) -> String {
    format!(
        "org_id = {} AND env_id = {} AND tenant_id = {} AND event_name = {} \
         AND {ts} >= toDateTime({}) AND {ts} < toDateTime({})",
        scope.org_id,
        scope.env_id,
        literal(&spec.tenant_id),
        literal(&spec.event_name),
        spec.from.timestamp().max(0),
        spec.to.timestamp().max(0),
    )
}

/// The SQL for a query on its planned table: columns `b` (bucket, epoch µs), `g` (group), `v`
/// (value). Public so benchmarks run the same SQL.
pub fn query_sql(
    scope: StoreScope,
    spec: &QuerySpec,
    ranges: &[NumericRangeFilter],
    route: Plan,
) -> Result<String> {
    let mut group_cols = Vec::new();
    if spec.granularity.is_some() {
        group_cols.push("b");
    }
    if spec.group_by.is_some() {
        group_cols.push("g");
    }
    let sql = match route {
        Plan::Rollup(i) => {
            let (table, _, _) =
                ROLLUPS.get(i).copied().ok_or_else(|| AppError::Internal(anyhow!("no rollup {i}")))?;
            let dim = |key: &str| planner::null_bit(key).map(|bit| (key.to_owned(), bit));
            let group = match spec.group_by.as_deref().and_then(dim) {
                Some((col, bit)) => format!("if(bitAnd(nulls, {bit}) != 0, NULL, {col})"),
                None => "CAST(NULL AS Nullable(String))".to_owned(),
            };
            let value = match spec.metric {
                Metric::Count => "toFloat64(countMerge(events))".to_owned(),
                Metric::CountUnique => {
                    return Err(AppError::Internal(anyhow!(
                        "rollups hold no exact sets: count_unique reads events"
                    )));
                }
                _ => format!("toFloat64({}(users_approx))", combinator(APPROX_UNIQ, "Merge")),
            };
            let mut sql = format!(
                "SELECT {b} AS b, {group} AS g, {value} AS v FROM {table} WHERE {w}",
                b = bucket_expr(spec.granularity, "bucket"),
                w = scope_and_window(scope, spec, "bucket"),
            );
            for (key, val) in &spec.filters {
                let (col, bit) = dim(key)
                    .ok_or_else(|| AppError::Internal(anyhow!("planner chose a rollup for {key}")))?;
                sql.push_str(&format!(" AND {col} = {} AND bitAnd(nulls, {bit}) = 0", literal(val)));
            }
            sql
        }
        Plan::Raw => {
            let group = match &spec.group_by {
                Some(key) => string_prop_expr(key),
                None => "CAST(NULL AS Nullable(String))".to_owned(),
            };
            let value = match spec.metric {
                Metric::Count => "toFloat64(count())".to_owned(),
                Metric::CountUnique => "toFloat64(ifNull(uniqExact(user_id), 0))".to_owned(),
                Metric::CountUniqueApprox => format!("toFloat64(ifNull({APPROX_UNIQ}(user_id), 0))"),
                numeric => {
                    let key = spec
                        .numeric_prop
                        .as_deref()
                        .ok_or_else(|| AppError::invalid("numeric_prop is required for this metric"))?;
                    let x = numeric_prop_expr(key);
                    match numeric {
                        Metric::Sum => format!("toFloat64(sum({x}))"),
                        Metric::Avg => format!("toFloat64(avg({x}))"),
                        Metric::P95 => quantile_expr(&x, 0.95),
                        _ => quantile_expr(&x, 0.99),
                    }
                }
            };
            let mut sql = format!(
                "SELECT {b} AS b, {group} AS g, {value} AS v FROM events WHERE {w}",
                b = bucket_expr(spec.granularity, "ts"),
                w = scope_and_window(scope, spec, "ts"),
            );
            for (key, val) in &spec.filters {
                sql.push_str(&format!(" AND {} = {}", string_prop_expr(key), literal(val)));
            }
            for range in ranges {
                let x = numeric_prop_expr(&range.key);
                if let Some(min) = range.min.filter(|m| m.is_finite()) {
                    sql.push_str(&format!(" AND {x} >= {min:?}"));
                }
                if let Some(max) = range.max.filter(|m| m.is_finite()) {
                    sql.push_str(&format!(" AND {x} <= {max:?}"));
                }
            }
            sql
        }
    };
    let mut sql = sql;
    if !group_cols.is_empty() {
        sql.push_str(&format!(" GROUP BY {}", group_cols.join(", ")));
    }
    sql.push_str(" HAVING count() > 0");
    Ok(sql)
}

impl ClickHouseStore {
    pub(super) async fn run_query(
        &self,
        scope: StoreScope,
        spec: &QuerySpec,
        ranges: &[NumericRangeFilter],
    ) -> Result<StoreAnswer> {
        self.query_with_plan(scope, spec, ranges, plan(spec, ranges)).await
    }

    /// Runs a query on a chosen route (tests and benchmarks compare rollups with raw this way).
    pub async fn query_with_plan(
        &self,
        scope: StoreScope,
        spec: &QuerySpec,
        ranges: &[NumericRangeFilter],
        route: Plan,
    ) -> Result<StoreAnswer> {
        let sql = query_sql(scope, spec, ranges, route)?;
        let answer = self.client.select(&sql, &[]).await?;
        let rows = answer
            .rows
            .iter()
            .map(|r| StoreRow {
                bucket: r.first().and_then(json_i64),
                group: r.get(1).and_then(json_string),
                value: r.get(2).and_then(json_f64),
            })
            .collect();
        let (source_table, planned_by, rollup_granularity) = route.meta();
        Ok(StoreAnswer {
            rows,
            rows_scanned: answer.rows_read,
            source_table: source_table.to_owned(),
            planned_by,
            rollup_granularity,
        })
    }

    pub(super) async fn discover_events(
        &self,
        scope: StoreScope,
        tenant_id: Option<&str>,
    ) -> Result<Vec<DiscoveredEvent>> {
        let mut base = format!("org_id = {} AND env_id = {}", scope.org_id, scope.env_id);
        if let Some(t) = tenant_id {
            base.push_str(&format!(" AND tenant_id = {}", literal(t)));
        }
        let top = self
            .client
            .select(
                &format!(
                    "SELECT event_name, count() AS n, uniqExact(tenant_id) FROM events WHERE {base} \
                     GROUP BY event_name ORDER BY n DESC, event_name LIMIT 100"
                ),
                &[],
            )
            .await?;
        let mut events: Vec<DiscoveredEvent> = top
            .rows
            .iter()
            .map(|r| DiscoveredEvent {
                event_name: r.first().and_then(json_string).unwrap_or_default(),
                count: r.get(1).and_then(json_u64).unwrap_or(0),
                tenants: r.get(2).and_then(json_u64).unwrap_or(0),
                string_props: Vec::new(),
                numeric_props: Vec::new(),
            })
            .collect();
        if events.is_empty() {
            return Ok(events);
        }
        let index: std::collections::HashMap<String, usize> =
            events.iter().enumerate().map(|(i, e)| (e.event_name.clone(), i)).collect();
        let keys_s = format!(
            "arrayConcat([{}], sp_keys)",
            MATERIALIZED_STRING_PROPS.iter().map(|k| literal(k)).collect::<Vec<_>>().join(", ")
        );
        let vals_s = format!(
            "arrayConcat([{}], arrayMap(x -> CAST(x AS Nullable(String)), sp_vals))",
            MATERIALIZED_STRING_PROPS.iter().map(|k| format!("s_{k}")).collect::<Vec<_>>().join(", ")
        );
        // Keys and values side by side (18.16 has no `arrayZip`): ARRAY JOIN walks both at once.
        let pairs_compat = format!(
            "SELECT event_name, k, v FROM (SELECT event_name, {keys_s} AS ks, {vals_s} AS vs FROM events WHERE {base}) \
             ARRAY JOIN ks AS k, vs AS v WHERE isNotNull(v)"
        );
        let counted = format!(
            "SELECT event_name, k, assumeNotNull(v) AS v, count() AS n FROM ({pairs_compat}) GROUP BY event_name, k, v"
        );
        let totals = self
            .client
            .select(
                &format!("SELECT event_name, k, sum(n), count() FROM ({counted}) GROUP BY event_name, k ORDER BY event_name, sum(n) DESC, k"),
                &[],
            )
            .await?;
        for r in &totals.rows {
            let name = r.first().and_then(json_string).unwrap_or_default();
            let Some(event) = index.get(&name).and_then(|i| events.get_mut(*i)) else { continue };
            event.string_props.push(DiscoveredStringProp {
                key: r.get(1).and_then(json_string).unwrap_or_default(),
                count: r.get(2).and_then(json_u64).unwrap_or(0),
                distinct_values: r.get(3).and_then(json_u64).unwrap_or(0),
                sample_values: Vec::new(),
            });
        }
        let samples = self
            .client
            .select(
                &format!(
                    "SELECT event_name, k, v, n FROM ({counted}) ORDER BY n DESC, v LIMIT 5 BY event_name, k"
                ),
                &[],
            )
            .await?;
        for r in &samples.rows {
            let name = r.first().and_then(json_string).unwrap_or_default();
            let key = r.get(1).and_then(json_string).unwrap_or_default();
            let Some(event) = index.get(&name).and_then(|i| events.get_mut(*i)) else { continue };
            if let Some(prop) = event.string_props.iter_mut().find(|p| p.key == key) {
                prop.sample_values.push(SampleValue {
                    value: r.get(2).and_then(json_string).unwrap_or_default(),
                    count: r.get(3).and_then(json_u64).unwrap_or(0),
                });
            }
        }
        let keys_n = format!(
            "arrayConcat([{}], np_keys)",
            MATERIALIZED_NUMERIC_PROPS.iter().map(|k| literal(k)).collect::<Vec<_>>().join(", ")
        );
        let vals_n = format!(
            "arrayConcat([{}], arrayMap(x -> CAST(x AS Nullable(Float64)), np_vals))",
            MATERIALIZED_NUMERIC_PROPS.iter().map(|k| format!("n_{k}")).collect::<Vec<_>>().join(", ")
        );
        let numeric = self
            .client
            .select(
                &format!(
                    "SELECT event_name, k, count() AS n, min(assumeNotNull(v)), max(assumeNotNull(v)) FROM \
                     (SELECT event_name, {keys_n} AS ks, {vals_n} AS vs FROM events WHERE {base}) \
                     ARRAY JOIN ks AS k, vs AS v WHERE isNotNull(v) GROUP BY event_name, k ORDER BY event_name, n DESC, k"
                ),
                &[],
            )
            .await?;
        for r in &numeric.rows {
            let name = r.first().and_then(json_string).unwrap_or_default();
            let Some(event) = index.get(&name).and_then(|i| events.get_mut(*i)) else { continue };
            event.numeric_props.push(DiscoveredNumericProp {
                key: r.get(1).and_then(json_string).unwrap_or_default(),
                count: r.get(2).and_then(json_u64).unwrap_or(0),
                min: r.get(3).and_then(json_f64),
                max: r.get(4).and_then(json_f64),
            });
        }
        Ok(events)
    }
}
