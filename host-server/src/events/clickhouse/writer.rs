//! The writer: RowBinary encoding and the group-commit task, one INSERT per org and month
//! partition, with de-duplication of client event ids.

use super::*;

/// Most rows one group commit (one INSERT) takes.
pub(super) const GROUP_COMMIT_ROWS: usize = 500_000;
/// Group commits under way at once: one being written by ClickHouse while the next is encoded
/// and sent keeps both sides busy; more would only add small parts for ClickHouse to merge.
pub(super) const INSERTS_IN_FLIGHT: usize = 2;
/// How long a group commit waits for more batches after its first one.
pub(super) const GROUP_COMMIT_LINGER: Duration = Duration::from_millis(20);

/// The RowBinary column list of [`encode_event`].
pub fn insert_columns() -> String {
    let mut cols: Vec<String> =
        ["org_id", "env_id", "tenant_id", "event_name", "ts", "event_id", "client_event_id", "user_id"]
            .map(String::from)
            .to_vec();
    cols.extend(MATERIALIZED_STRING_PROPS.iter().map(|k| format!("s_{k}")));
    cols.extend(MATERIALIZED_NUMERIC_PROPS.iter().map(|k| format!("n_{k}")));
    cols.extend(["sp_keys", "sp_vals", "np_keys", "np_vals"].map(String::from));
    cols.join(", ")
}

pub(super) fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

pub(super) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

pub(super) fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.push(0);
            put_str(out, s);
        }
        None => out.push(1),
    }
}

/// Appends one event as a RowBinary row in [`insert_columns`]' order. Public so benchmarks send
/// the very bytes the server sends.
pub fn encode_event(scope: StoreScope, e: &NewEvent, out: &mut Vec<u8>) {
    out.extend_from_slice(&scope.org_id.to_le_bytes());
    out.extend_from_slice(&scope.env_id.to_le_bytes());
    put_str(out, &e.tenant_id);
    put_str(out, &e.event_name);
    // Ingest accepts 1970..=2100; DateTime holds 1970..2106.
    let secs = u32::try_from(e.timestamp.timestamp().max(0)).unwrap_or(u32::MAX);
    out.extend_from_slice(&secs.to_le_bytes());
    put_str(out, &e.event_id);
    out.push(u8::from(e.client_event_id));
    put_opt_str(out, e.user_id.as_deref());
    let mut cols_s: [Option<&str>; MATERIALIZED_STRING_PROPS.len()] = Default::default();
    let mut rest_s: Vec<&(String, String)> = Vec::new();
    for kv in &e.string_props {
        match MATERIALIZED_STRING_PROPS.iter().position(|k| *k == kv.0) {
            Some(i) => cols_s[i] = Some(&kv.1),
            None => rest_s.push(kv),
        }
    }
    let mut cols_n: [Option<f64>; MATERIALIZED_NUMERIC_PROPS.len()] = Default::default();
    let mut rest_n: Vec<&(String, f64)> = Vec::new();
    for kv in &e.numeric_props {
        match MATERIALIZED_NUMERIC_PROPS.iter().position(|k| *k == kv.0) {
            Some(i) => cols_n[i] = Some(kv.1),
            None => rest_n.push(kv),
        }
    }
    for v in cols_s {
        put_opt_str(out, v);
    }
    for v in cols_n {
        match v {
            Some(x) => {
                out.push(0);
                out.extend_from_slice(&x.to_le_bytes());
            }
            None => out.push(1),
        }
    }
    put_varint(out, rest_s.len() as u64);
    for kv in &rest_s {
        put_str(out, &kv.0);
    }
    put_varint(out, rest_s.len() as u64);
    for kv in &rest_s {
        put_str(out, &kv.1);
    }
    put_varint(out, rest_n.len() as u64);
    for kv in &rest_n {
        put_str(out, &kv.0);
    }
    put_varint(out, rest_n.len() as u64);
    for kv in &rest_n {
        out.extend_from_slice(&kv.1.to_le_bytes());
    }
}

/// Drops the arrival days of `dedup_ids` that left the window on `today` (whole partitions).
pub(super) async fn prune_window(
    client: &ClickHouseClient,
    window: DedupWindow,
    today: i32,
) -> anyhow::Result<()> {
    let first = chrono::DateTime::from_timestamp(i64::from(window.first_day(today)) * 86_400, 0)
        .map(|t| t.format("%Y%m%d").to_string())
        .unwrap_or_default();
    let answer = client
        .select(
            &format!(
                "SELECT DISTINCT partition FROM system.parts WHERE database = {} AND table = '{DEDUP_TABLE}' \
                 AND active AND partition < {}",
                literal(client.database()),
                literal(&first)
            ),
            &[],
        )
        .await?;
    for partition in answer.rows.iter().filter_map(|r| r.first().and_then(json_string)) {
        if partition.bytes().all(|b| b.is_ascii_digit()) {
            client.execute(&format!("ALTER TABLE {DEDUP_TABLE} DROP PARTITION {partition}")).await?;
        }
    }
    Ok(())
}

/// Reads the de-duplication window back from `dedup_ids` (not the whole history of `events`),
/// after dropping the days that left it.
pub(super) async fn load_window(client: &ClickHouseClient, window: DedupWindow) -> anyhow::Result<DedupSet> {
    let started = std::time::Instant::now();
    let today = dedup::today();
    prune_window(client, window, today).await?;
    let answer = client
        .select(
            &format!(
                "SELECT org_id, env_id, event_id, toInt32(day) FROM {DEDUP_TABLE} WHERE toInt32(day) >= {}",
                window.first_day(today)
            ),
            &[],
        )
        .await?;
    let mut seen = DedupSet::new(window);
    for row in &answer.rows {
        let (Some(org_id), Some(env_id), Some(id), Some(day)) = (
            row.first().and_then(json_i64),
            row.get(1).and_then(json_i64),
            row.get(2).and_then(json_string),
            row.get(3).and_then(json_i64),
        ) else {
            continue;
        };
        seen.insert_stored(StoreScope { org_id, env_id }, &id, day as i32);
    }
    seen.log_loaded(started);
    Ok(seen)
}

/// One org's batches of a group, sent as one INSERT per partition, waiting for ClickHouse's
/// answers.
pub(super) struct InFlight {
    group: Vec<WriteJob>,
    plan: GroupPlan,
}

/// Drains the queue into group commits and keeps up to [`INSERTS_IN_FLIGHT`] of them under way:
/// while ClickHouse writes one group's parts, the next group accumulates (so groups grow with
/// load) and is encoded and sent. Each request is answered once its own INSERT was acknowledged.
pub(super) async fn writer_loop(
    client: ClickHouseClient,
    mut rx: mpsc::Receiver<WriteJob>,
    window: DedupWindow,
) {
    let mut seen = match load_window(&client, window).await {
        Ok(seen) => seen,
        Err(e) => {
            // Storing without the window could store duplicates: refuse every batch instead.
            let message = format!("{e:#}");
            tracing::error!(error = %message, "cannot read the de-duplication window; refusing events");
            while let Some(job) = rx.recv().await {
                let _ =
                    job.reply.send(Err(AppError::Internal(anyhow!("events store unavailable: {message}"))));
            }
            return;
        }
    };
    let mut pruned_on = dedup::today();
    let columns = insert_columns();
    // Each insert task answers the partitions it wrote and how it ended.
    let mut inserts: JoinSet<(Vec<i32>, Result<()>)> = JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, InFlight> = HashMap::new();
    let mut open = true;
    while open || !inserts.is_empty() {
        tokio::select! {
            done = inserts.join_next_with_id(), if !inserts.is_empty() => {
                settle(done, &mut in_flight, &mut seen);
            }
            job = rx.recv(), if open && inserts.len() < INSERTS_IN_FLIGHT => {
                let Some(first) = job else {
                    open = false;
                    continue;
                };
                let today = dedup::today();
                if today != pruned_on {
                    seen.expire(today);
                    if let Err(e) = prune_window(&client, window, today).await {
                        tracing::warn!(error = %format!("{e:#}"), "pruning dedup_ids failed; retried tomorrow");
                    }
                    pruned_on = today;
                }
                let mut rows = first.events.len();
                let mut group = vec![first];
                // Linger briefly for more batches: concurrent clients' requests arrive a few
                // milliseconds apart, and each INSERT costs ClickHouse a fixed ~100-200 ms of part
                // writing (per partition touched, per rollup) whatever its size.
                let deadline = tokio::time::Instant::now() + GROUP_COMMIT_LINGER;
                while rows < GROUP_COMMIT_ROWS {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(job)) => {
                            rows += job.events.len();
                            group.push(job);
                        }
                        Ok(None) => {
                            open = false;
                            break;
                        }
                        Err(_) => break,
                    }
                }
                // One INSERT per org, so nothing one org sends (a batch ClickHouse refuses, a
                // limit it trips) can fail another org's requests; and within it one INSERT per
                // month partition, so no insert block spans partitions
                // (`max_partitions_per_insert_block`) and an insert costs the parts it would
                // have written anyway.
                let by_org = split_by_org(group);
                let plan_all = |seen: &DedupSet| -> Vec<GroupPlan> {
                    by_org.iter().map(|jobs| seen.plan(jobs.iter().map(|job| (job.scope, job.events.as_slice())))).collect()
                };
                let mut plans = plan_all(&seen);
                if plans.iter().any(|plan| plan.waits_on_pending) {
                    // A client id of this group is in an insert still under way, whose outcome
                    // decides whether it is a duplicate: settle everything in flight, plan again.
                    while let Some(done) = inserts.join_next_with_id().await {
                        settle(Some(done), &mut in_flight, &mut seen);
                    }
                    plans = plan_all(&seen);
                }
                for (group, plan) in by_org.into_iter().zip(plans) {
                    let blocks = encode_by_partition(&group, &plan);
                    seen.reserve(&plan);
                    let (client, columns) = (client.clone(), columns.clone());
                    let handle = inserts.spawn(async move {
                        let mut written = Vec::with_capacity(blocks.len());
                        for (partition, data) in blocks {
                            if let Err(e) = client.insert_row_binary("events", &columns, data).await {
                                return (written, Err(AppError::Internal(anyhow!("storing events: {e:#}"))));
                            }
                            written.push(partition);
                        }
                        (written, Ok(()))
                    });
                    in_flight.insert(handle.id(), InFlight { group, plan });
                }
            }
        }
    }
}

/// The batches of a group, one list per org, in arrival order.
pub(super) fn split_by_org(group: Vec<WriteJob>) -> Vec<Vec<WriteJob>> {
    let mut by_org: Vec<Vec<WriteJob>> = Vec::new();
    for job in group {
        match by_org.iter_mut().find(|jobs| jobs.first().is_some_and(|j| j.scope.org_id == job.scope.org_id))
        {
            Some(jobs) => jobs.push(job),
            None => by_org.push(vec![job]),
        }
    }
    by_org
}

/// The RowBinary rows of an org's group that its plan keeps, one block per month partition
/// (`toYYYYMM(ts)`, the partition key of `events` and of the rollups' buckets).
pub(super) fn encode_by_partition(
    group: &[WriteJob],
    plan: &GroupPlan,
) -> std::collections::BTreeMap<i32, Vec<u8>> {
    let mut blocks: std::collections::BTreeMap<i32, Vec<u8>> = std::collections::BTreeMap::new();
    for (job, mask) in group.iter().zip(&plan.keep) {
        for (event, _) in job.events.iter().zip(mask).filter(|(_, keep)| **keep) {
            let partition = partition_of(event.timestamp);
            encode_event(
                job.scope,
                event,
                blocks.entry(partition).or_insert_with(|| Vec::with_capacity(64 * 1024)),
            );
        }
    }
    blocks
}

/// The month partition (`toYYYYMM`) of an event time.
pub(super) fn partition_of(t: chrono::DateTime<chrono::Utc>) -> i32 {
    use chrono::Datelike;
    t.year() * 100 + t.month() as i32
}

/// The answer of one org's insert task: the partitions written, and how it ended.
pub(super) type InsertDone =
    std::result::Result<(tokio::task::Id, (Vec<i32>, Result<()>)), tokio::task::JoinError>;

/// Answers the requests of a finished INSERT and records (or forgets) its client ids.
pub(super) fn settle(
    done: Option<InsertDone>,
    in_flight: &mut HashMap<tokio::task::Id, InFlight>,
    seen: &mut DedupSet,
) {
    let (id, written, result) = match done {
        None => return,
        Some(Ok((id, (written, result)))) => (id, written, result),
        Some(Err(e)) => (e.id(), Vec::new(), Err(AppError::Internal(anyhow!("the insert task failed: {e}")))),
    };
    let Some(InFlight { group, plan }) = in_flight.remove(&id) else {
        return;
    };
    match result {
        Ok(()) => {
            for (job, outcome) in group.into_iter().zip(seen.commit(plan, dedup::today())) {
                let _ = job.reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "ClickHouse insert failed");
            // Months written before the failure stay stored: remember their client ids, so a
            // retry of the batch stores only the rest.
            for (job, mask) in group.iter().zip(&plan.keep) {
                for (event, _) in job.events.iter().zip(mask).filter(|(e, keep)| **keep && e.client_event_id)
                {
                    if written.contains(&partition_of(event.timestamp)) {
                        seen.insert_stored(job.scope, &event.event_id, dedup::today());
                    }
                }
            }
            seen.release(plan);
            let message = e.to_string();
            for job in group {
                let _ = job.reply.send(Err(AppError::Internal(anyhow!("{message}"))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        let mut out = Vec::new();
        put_varint(&mut out, 300);
        assert_eq!(out, vec![0xac, 0x02]);
    }
}
