"""Runs the ad-hoc escape corpus on a current ClickHouse (embedded by PyPI's chdb-core).

Called by escapes.rs with a fixture: the DDL and rows of two databases (`escapes` with two orgs,
`escapes_own` with only the caller's org), the statements our rewrite produced, the raw attempts,
and the `additional_table_filters` our server would send. A statement leaks when its answer
differs between the two databases. Prints one JSON summary as its last line; exits 1 on a leak.
"""

import json
import sys

from chdb import session

# Raw statements (not rewritten) that read our tables directly: with the engine's filters alone
# they must not leak, and without them they must (or the check proves nothing).
RAW_DIRECT = [
    "SELECT count() FROM events",
    "SELECT org_id, count() FROM events GROUP BY org_id",
    "SELECT count() FROM {db}.events",
    "SELECT count() FROM events_hourly",
    "SELECT count() FROM events_hourly_mv",
    'WITH events_hourly_mv AS (SELECT * FROM "events_hourly_mv") SELECT count() FROM events_hourly_mv',
    "SELECT count() FROM events_daily_mv WHERE org_id = 2",
    "SELECT count() FROM events WHERE globalIn(event_name, events)",
    "SELECT count() FROM events a JOIN events b ON a.event_id = b.event_id",
]


# Raw attempts that only stall, reach out or build huge values: not run unrewritten.
SKIP_RAW = ("sleep", "url(", "remote(", "cluster(", "file(", "input(", "generaterandom", "range(",
            "repeat(", "pad(", "randomstring", "arraywithconstant", "printf", "numbers(", "series(")


def main(path):
    fixture = json.load(open(path))
    s = session.Session()
    s.query("SET max_execution_time = 10")
    s.query("SET max_memory_usage = 2000000000")
    version = json.loads(str(s.query("SELECT version()", "JSONCompact")))["data"][0][0]
    dbs = fixture["databases"]
    for name, db in dbs.items():
        s.query(f"CREATE DATABASE IF NOT EXISTS {name}")
        for ddl in db["ddl"]:
            s.query(ddl)
        lines = "\n".join(json.dumps(r) for r in db["rows"])
        cols = ", ".join(db["columns"])
        s.query(f"INSERT INTO {name}.events ({cols}) FORMAT JSONCompactEachRow\n{lines}")
        for t in ("events_hourly", "events_daily"):
            s.query(f"OPTIMIZE TABLE {name}.{t} FINAL")

    def answer(db, sql, filtered):
        filters = dbs[db]["filters"] if filtered else "{}"
        s.query(f"USE {db}")
        s.query(f"SET additional_table_filters = {filters}")
        try:
            rows = json.loads(str(s.query(sql.replace("{db}", db), "JSONCompact")))["data"]
            return sorted(json.dumps(r) for r in rows)
        except Exception as e:  # noqa: BLE001 - an engine refusal is an answer too
            return ("error", str(e).split("\n")[0][:160])

    def differs(sql, filtered):
        a = answer("escapes", sql, filtered)
        b = answer("escapes_own", sql, filtered)
        errored = isinstance(a, tuple) and isinstance(b, tuple)
        return (not errored and a != b), errored, a, b

    leaks, ran, engine_refused, details = 0, 0, 0, []
    for item in fixture["rewritten"]:
        for filtered in (False, True):
            leak, errored, a, b = differs(item["sql"], filtered)
            if errored:
                engine_refused += 1
            else:
                ran += 1
            if leak:
                leaks += 1
                details.append({"raw": item["raw"], "sql": item["sql"], "filtered": filtered, "two": str(a)[:200], "own": str(b)[:200]})

    direct_leaks_unfiltered, direct_leaks_filtered = 0, 0
    for sql in RAW_DIRECT:
        if differs(sql, False)[0]:
            direct_leaks_unfiltered += 1
        leak, _, a, b = differs(sql, True)
        if leak:
            direct_leaks_filtered += 1
            details.append({"raw": sql, "filtered": True, "engine_only": True, "two": str(a)[:200], "own": str(b)[:200]})

    # Informational: raw attempts that the engine's filters alone do not stop (merge(), system
    # tables...): why the rewrite and the allowlist stay the first layer.
    raw = [sql for sql in fixture["raw"] if not any(k in sql.lower() for k in SKIP_RAW)]
    raw_differing = [sql for sql in raw if differs(sql, True)[0]]

    summary = {
        "version": version,
        "rewritten_statements": len(fixture["rewritten"]),
        "rewritten_ran": ran,
        "engine_refused": engine_refused,
        "leaks": leaks + direct_leaks_filtered,
        "raw_direct": len(RAW_DIRECT),
        "raw_direct_leaking_without_filters": direct_leaks_unfiltered,
        "engine_filter_effective": direct_leaks_filtered == 0 and direct_leaks_unfiltered >= len(RAW_DIRECT) - 2,
        "raw_attempts_run": len(raw),
        "raw_attempts_not_stopped_by_filters_alone": len(raw_differing),
        "raw_attempts_not_stopped_examples": raw_differing[:5],
        "details": details[:10],
    }
    print(json.dumps(summary))
    return 1 if summary["leaks"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
