#!/usr/bin/env bash
# Embed runtime load over 10M events (issue 4): iframe `src` -> `ready` (goal <= 250 ms), -> every
# widget painted (goal <= 600 ms), and the ratio to the same iframe loading an empty page.
#
#  1. 10M events in one org (DuckDB), generated and ingested through the API by `emban-bench`
#     (1,000 Zipf-sized tenants over the 30 days before the ingest; `--data-dir` keeps them).
#     Skipped when $DATA already holds them: delete $DATA to start over (do so when the data is
#     days old, or the dashboard's 30-day period covers fewer events). ~5.5 min on 2 busy cores.
#  2. `emban serve` over that data dir with the built runtime (dist/), an admin key (signed in as
#     emban-bench's user), and a published 6-widget dashboard like the demo's: three metrics
#     (count, p95, count_unique), a timeseries by model, a breakdown (pie) and a table.
#  3. scripts/bench_runtime_load.py against the largest tenant (tenant_0001, ~13% of the rows).
#
# Run on demand, not in CI:  scripts/bench_runtime_10m.sh [--runs 15]
# Env: DATA (default ~/.cache/emban-bench-10m), EVENTS (default 10000000), TENANT, CARGO_TARGET_DIR;
# to compare builds: BIN_DIR (a directory holding `emban` and `emban-bench`: nothing is built) and
# RUNTIME_DIR (a runtime build other than dist/).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
DATA="${DATA:-$HOME/.cache/emban-bench-10m}"
EVENTS="${EVENTS:-10000000}"
TENANT="${TENANT:-tenant_0001}"
BIN="${BIN_DIR:-$CARGO_TARGET_DIR/debug}"
RUNTIME="${RUNTIME_DIR:-dist}"
[ -f "$RUNTIME/index.html" ] || { log "$RUNTIME/ is missing: source scripts/setup.sh && build_runtime"; exit 1; }

if [ -z "${BIN_DIR:-}" ]; then
  log "cargo build -p emban-host-server -p emban-bench --bins (emban, emban-bench)"
  cargo build -q -p emban-host-server -p emban-bench --bins
fi

if [ ! -f "$DATA/server/events.duckdb" ] || [ ! -f "$DATA/.ingested-$EVENTS" ]; then
  log "ingesting $EVENTS events into $DATA with emban-bench (this takes minutes)"
  rm -rf "$DATA"
  started=$(date +%s)
  "$BIN/emban-bench" --events "$EVENTS" --data-dir "$DATA" --skip-raw --query-runs 1 --warmup-runs 0 \
    | tee "$DATA.bench.log" | grep -E "ingest|accepted|events/s|\[server\]" || true
  [ -f "$DATA/server/events.duckdb" ] || { log "emban-bench did not leave $DATA/server"; exit 1; }
  touch "$DATA/.ingested-$EVENTS"
  log "setup: $EVENTS events in $(( $(date +%s) - started )) s (log: $DATA.bench.log)"
fi

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
log "emban serve $URL over $DATA/server"
"$BIN/emban" serve --bind "127.0.0.1:$PORT" --data-dir "$DATA/server" --demo false \
  --runtime-dir "$RUNTIME" --www-dir www --helper-dir embed-helper/pkg >"$DATA/serve.log" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -sf "$URL/healthz" >/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { log "the server exited; see $DATA/serve.log"; exit 1; }
  sleep 0.2
done

# Signed in as emban-bench's user: an admin key for this run, and the dashboard (created once).
read -r KEY DASHBOARD < <(python3 - "$URL" <<'EOF'
import http.cookiejar, json, sys, urllib.request
url = sys.argv[1]
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
def call(method, path, body=None, key=None):
    # Origin: a change made with the session cookie must come from the server's own pages.
    headers = {"Content-Type": "application/json", "Origin": url}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = None if body is None else json.dumps(body).encode()
    with opener.open(urllib.request.Request(url + path, data=data, method=method, headers=headers), timeout=60) as r:
        text = r.read()
        return json.loads(text) if text else None
call("POST", "/v1/auth/login", {"email": "bench@example.com", "password": "bench-password-1"})
key = call("POST", "/v1/api-keys", {"label": "runtime-load-10m", "scope": "admin"})["key"]
name = "Runtime load (6 widgets)"
found = [d for d in call("GET", "/v1/dashboards", key=key)["dashboards"] if d["name"] == name]
if found:
    dashboard = found[0]["id"]
else:
    def widget(id, kind, title, query, viz, x, y, w, h):
        return {"id": id, "kind": kind, "title": title, "query": query, "viz": {"type": viz},
                "layout": {"x": x, "y": y, "w": w, "h": h}}
    widgets = [
        widget("calls", "metric", "API calls", {"event_name": "api.call", "metric": "count"}, "number", 0, 0, 4, 2),
        widget("p95_latency", "metric", "p95 latency (ms)",
               {"event_name": "api.call", "metric": "p95", "numeric_prop": "latency_ms"}, "number", 4, 0, 4, 2),
        widget("active_users", "metric", "Active users", {"event_name": "api.call", "metric": "count_unique"}, "number", 8, 0, 4, 2),
        widget("calls_by_model", "timeseries", "Calls per day by model",
               {"event_name": "api.call", "metric": "count", "granularity": "day", "group_by": "model"}, "line", 0, 2, 8, 5),
        widget("calls_by_endpoint", "breakdown", "Calls by endpoint",
               {"event_name": "api.call", "metric": "count", "group_by": "endpoint"}, "pie", 8, 2, 4, 5),
        widget("tokens_by_plan", "table", "Tokens by plan",
               {"event_name": "api.call", "metric": "sum", "numeric_prop": "tokens", "group_by": "plan", "limit": 10},
               "table", 0, 7, 12, 4),
    ]
    dashboard = call("POST", "/v1/dashboards", {"name": name, "widgets": widgets}, key=key)["id"]
    call("POST", f"/v1/dashboards/{dashboard}/publish", key=key)
print(key, dashboard)
EOF
)
ROWS="$(curl -sf -H "Authorization: Bearer $KEY" "$URL/v1/query?event_name=api.call&metric=count&period=30d&tenant_id=$TENANT" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"][0]["value"])' || echo '?')"
log "dashboard $DASHBOARD; tenant $TENANT has $ROWS api.call events over 30d"
python3 scripts/bench_runtime_load.py --server "$URL" --key "$KEY" --dashboard "$DASHBOARD" --tenant "$TENANT" "$@"

# Where `painted` waits: each widget's query on the server (median of 5, `meta.query_time_ms`, as
# the embed's `POST /v1/embed/query` runs it: the same query path).
python3 - "$URL" "$KEY" "$DASHBOARD" "$TENANT" <<'EOF'
import json, statistics, sys, time, urllib.request
url, key, dashboard, tenant = sys.argv[1:]
def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=60) as r:
        return json.loads(r.read())
widgets = call("GET", f"/v1/dashboards/{dashboard}")["published_config"]["widgets"]
print(f"server query time per widget, tenant {tenant}, default period (median of 5, warm):")
for w in widgets:
    server, wall = [], []
    for _ in range(5):
        started = time.perf_counter()
        answer = call("POST", "/v1/widgets/preview/data", {"tenant_id": tenant, "widget": w})
        wall.append((time.perf_counter() - started) * 1000)
        server.append(answer["meta"]["query_time_ms"])
    print(f"  {w['id']:<18} {w['kind']:<10} server {statistics.median(server):6.1f} ms  wall {statistics.median(wall):6.1f} ms")
EOF
