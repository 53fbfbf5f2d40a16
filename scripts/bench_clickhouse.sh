#!/usr/bin/env bash
# The ClickHouse benchmarks (BENCHMARKS.md, "ClickHouse backend"): starts a throwaway ClickHouse
# (Debian's clickhouse-server, as the tests do) on free loopback ports with its data under
# $BENCH_DIR (default /tmp/emban-bench-clickhouse; 100M events need ~10 GB), runs
# `emban-bench-clickhouse` against it, and stops it. Run on demand, not in CI. Extra arguments go
# to the benchmark:
#
#   scripts/bench_clickhouse.sh                                # 300k-event ingest comparison, 100M-event queries
#   scripts/bench_clickhouse.sh --query-events 5000000         # a quicker run
#   scripts/bench_clickhouse.sh --help
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
setup_server
setup_clickhouse
BENCH_DIR="${BENCH_DIR:-/tmp/emban-bench-clickhouse}"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP_PORT=$(free_port); TCP_PORT=$(free_port); INTER_PORT=$(free_port)
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"/{data,tmp,user_files,log,format_schemas}
cat > "$BENCH_DIR/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$BENCH_DIR/log/server.log</log><errorlog>$BENCH_DIR/log/error.log</errorlog><console>0</console></logger>
  <http_port>$HTTP_PORT</http_port>
  <tcp_port>$TCP_PORT</tcp_port>
  <interserver_http_port>$INTER_PORT</interserver_http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>$BENCH_DIR/data/</path>
  <tmp_path>$BENCH_DIR/tmp/</tmp_path>
  <user_files_path>$BENCH_DIR/user_files/</user_files_path>
  <format_schema_path>$BENCH_DIR/format_schemas/</format_schema_path>
  <timezone>UTC</timezone>
  <mark_cache_size>1073741824</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <users_config>$BENCH_DIR/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
</yandex>
XML
cat > "$BENCH_DIR/users.xml" <<'XML'
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>8000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
XML
SERVER=$(command -v clickhouse-server || echo /usr/bin/clickhouse-server)
(cd "$BENCH_DIR" && exec "$SERVER" --config-file="$BENCH_DIR/config.xml" >/dev/null 2>&1) &
CH_PID=$!
trap 'kill $CH_PID 2>/dev/null || true; wait $CH_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do
  curl -fs "http://127.0.0.1:$HTTP_PORT/ping" >/dev/null 2>&1 && break
  sleep 0.2
done
log "ClickHouse $(curl -fs "http://127.0.0.1:$HTTP_PORT/?query=SELECT%20version()") on :$HTTP_PORT (data in $BENCH_DIR)"
log "building emban-bench-clickhouse"
cargo build -p emban-bench --bin emban-bench-clickhouse
"$CARGO_TARGET_DIR/debug/emban-bench-clickhouse" --http-url "http://127.0.0.1:$HTTP_PORT" --tcp-port "$TCP_PORT" "$@"
