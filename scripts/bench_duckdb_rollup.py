#!/usr/bin/env python3
"""Would a rollup pay on the embedded DuckDB store? (issue 6: "the planner, both backends where it
pays; measure"). Run on demand: `python3 scripts/bench_duckdb_rollup.py [--events 10000000]`
(needs `pip install duckdb`, the same engine the server embeds).

It builds the store's layout in a temporary DuckDB file: events in 8 tenant-hash shard tables,
appended in arrival (time) order, with the same generator formulas as the benchmarks (20 tenants,
90 days, model/status dimensions), and a daily rollup keyed like ClickHouse's (tenant, event, day,
model, status) with counts. Then, for one tenant:
  - query time of rollup-eligible dashboard queries on raw events and on the rollup (p50 of 15);
  - what keeping the rollup current costs at ingest: appending 10k-event batches with and without
    aggregating each batch into the rollup (INSERT ... ON CONFLICT DO UPDATE) in the same
    transaction.
"""

import argparse
import os
import statistics
import tempfile
import time

import duckdb

GEN = """
SELECT 'tenant-' || (h % 20)::VARCHAR AS tenant_id, 'api.call' AS event_name,
       (TIMESTAMP '{now}' - to_seconds(((h >> 8) % 7776000)::BIGINT)) AS ts,
       'user-' || ((h >> 20) % 50000)::VARCHAR AS user_id,
       (['gpt-4','claude','llama','mistral'])[((h >> 30) % 4)::INT + 1] AS model,
       (['success','success','success','error'])[((h >> 34) % 4)::INT + 1] AS status,
       ((h >> 40) % 4000)::DOUBLE AS tokens
FROM (SELECT (i::UHUGEINT * 11400714819323198485::UHUGEINT % 18446744073709551616::UHUGEINT)::UBIGINT AS h
      FROM range({lo}, {hi}) t(i))
"""

ROLLUP_KEY = "tenant_id, event_name, day, model, status"


def p50(f, runs=15):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000_000)
    args = ap.parse_args()
    path = os.path.join(tempfile.mkdtemp(prefix="emban-duck-rollup-"), "events.duckdb")
    con = duckdb.connect(path)
    now = "2026-11-21 00:00:00"
    cols = "tenant_id VARCHAR, event_name VARCHAR, ts TIMESTAMP, user_id VARCHAR, model VARCHAR, status VARCHAR, tokens DOUBLE"
    for s in range(8):
        con.execute(f"CREATE TABLE events_s{s} ({cols})")
    con.execute(f"CREATE TABLE daily (tenant_id VARCHAR, event_name VARCHAR, day TIMESTAMP, model VARCHAR, status VARCHAR, n BIGINT, PRIMARY KEY ({ROLLUP_KEY}))")
    t = time.perf_counter()
    step = 1_000_000
    # Arrival order: the generator's rows sorted by time, as events arrive.
    con.execute(f"CREATE TEMP TABLE gen AS SELECT * FROM ({GEN.format(now=now, lo=0, hi=args.events)}) ORDER BY ts")
    for s in range(8):
        con.execute(f"INSERT INTO events_s{s} SELECT * FROM gen WHERE hash(tenant_id) % 8 = {s}")
    con.execute(f"INSERT INTO daily SELECT tenant_id, event_name, date_trunc('day', ts) AS day, model, status, count(*) FROM gen GROUP BY ALL")
    con.execute("DROP TABLE gen")
    con.execute("CHECKPOINT")
    print(f"loaded {args.events:,} events in {time.perf_counter() - t:.1f}s; rollup rows: {con.execute('SELECT count(*) FROM daily').fetchone()[0]:,}")
    shard = con.execute("SELECT hash('tenant-3') % 8").fetchone()[0]
    raw = f"events_s{shard}"
    w = f"tenant_id = 'tenant-3' AND event_name = 'api.call'"
    frm = f"TIMESTAMP '{now}' - INTERVAL 30 DAY"
    queries = [
        ("count by day, 30d",
         f"SELECT date_trunc('day', ts) b, count(*) FROM {raw} WHERE {w} AND ts >= {frm} GROUP BY b",
         f"SELECT day b, sum(n) FROM daily WHERE {w} AND day >= {frm} GROUP BY b"),
        ("count by day, 30d, group_by model",
         f"SELECT date_trunc('day', ts) b, model, count(*) FROM {raw} WHERE {w} AND ts >= {frm} GROUP BY b, model",
         f"SELECT day b, model, sum(n) FROM daily WHERE {w} AND day >= {frm} GROUP BY b, model"),
        ("count by week, 90d, group_by status, f_model",
         f"SELECT date_trunc('week', ts) b, status, count(*) FROM {raw} WHERE {w} AND model = 'gpt-4' GROUP BY b, status",
         f"SELECT date_trunc('week', day) b, status, sum(n) FROM daily WHERE {w} AND model = 'gpt-4' GROUP BY b, status"),
    ]
    print("\n| query | raw p50 ms | rollup p50 ms | speed-up |\n|---|---|---|---|")
    for name, a, b in queries:
        assert sorted(con.execute(a).fetchall()) == sorted(con.execute(b).fetchall()), name
        ra, rb = p50(lambda: con.execute(a).fetchall()), p50(lambda: con.execute(b).fetchall())
        print(f"| {name} | {ra:.1f} | {rb:.1f} | {ra / rb:.1f}x |")

    # Ingest cost of keeping the rollup current, in the writer's transaction.
    batches = 30
    con.execute(f"CREATE TEMP TABLE batch AS SELECT * FROM ({GEN.format(now=now, lo=args.events, hi=args.events + 10_000)})")
    def append(with_rollup):
        t = time.perf_counter()
        for _ in range(batches):
            con.execute("BEGIN")
            for s in range(8):
                con.execute(f"INSERT INTO events_s{s} SELECT * FROM batch WHERE hash(tenant_id) % 8 = {s}")
            if with_rollup:
                con.execute(f"INSERT INTO daily SELECT tenant_id, event_name, date_trunc('day', ts) AS day, model, status, count(*) AS n FROM batch GROUP BY ALL "
                            f"ON CONFLICT ({ROLLUP_KEY}) DO UPDATE SET n = n + excluded.n")
            con.execute("COMMIT")
        return batches * 10_000 / (time.perf_counter() - t)
    plain, rolled = append(False), append(True)
    print(f"\ningest, 10k-event batches: {plain:,.0f} events/s without the rollup, {rolled:,.0f} with it ({rolled / plain:.0%})")
    con.close()


if __name__ == "__main__":
    main()
