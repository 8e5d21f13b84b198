#!/usr/bin/env bash
# The figures of the core foundation, on SQLite and PostgreSQL, release build:
#   - idle resident memory after start
#   - time from process start to /readyz = 200
#   - throughput and p50/p99 latency of POST /api/v1/cases (with a first message)
#     and GET /api/v1/cases?limit=50 for an agent whose unit holds 100k cases,
#     driven by wrk over loopback.
# Usage: benches/api.sh [path/to/release/ventanilla]   (needs wrk and PostgreSQL)
set -euo pipefail
bin=${1:-target/release/ventanilla}
# The benchmarks\' helper (`seed`), built with `cargo build --release -p ventanilla-bench`.
bench=${BENCH_BIN:-$(dirname "$bin")/ventanilla-bench}
cases=${BENCH_CASES:-100000}
duration=${BENCH_DURATION:-15s}
connections=${BENCH_CONNECTIONS:-32}
here=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

run_backend() {
  local name=$1 url=$2 dir port base pid
  dir=$(mktemp -d); port=$(free_port); base="http://127.0.0.1:$port"
  export VENTANILLA_DATA_DIR=$dir VENTANILLA_DATABASE_URL=$url VENTANILLA_LOG__FILTER=warn
  export VENTANILLA_AUTH__LOGIN_ATTEMPTS_PER_IP_PER_MINUTE=10000
  "$bin" migrate >/dev/null
  printf 'clave-de-bench-123\n' | "$bin" admin create --email bench@test.example --password-file - >/dev/null

  local t0 t1
  t0=$(date +%s%N)
  "$bin" serve --listen "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
  pid=$!
  until curl -fsS "$base/readyz" >/dev/null 2>&1; do sleep 0.005; done
  t1=$(date +%s%N)
  sleep 2
  local rss; rss=$(ps -o rss= -p "$pid" | tr -d ' ')

  local admin unit agent
  admin=$(curl -fsS -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"email":"bench@test.example","password":"clave-de-bench-123"}' | json_field '["access_token"]')
  unit=$(curl -fsS -X POST "$base/api/v1/units" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
    -d '{"slug":"admisiones","name":"Admisiones"}' | json_field '["id"]')
  curl -fsS -X POST "$base/api/v1/units" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
    -d '{"slug":"otra","name":"Otra"}' >/dev/null
  curl -fsS -X POST "$base/api/v1/users" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
    -d "{\"email\":\"agente@test.example\",\"display_name\":\"Agente\",\"password\":\"clave-de-agente-123\",\"memberships\":[{\"unit_id\":\"$unit\",\"role\":\"agent\"}]}" >/dev/null
  "$bench" seed --unit admisiones --cases "$cases" | sed "s/^/  [$name] /"
  "$bench" seed --unit otra --cases $((cases / 10)) >/dev/null
  agent=$(curl -fsS -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"email":"agente@test.example","password":"clave-de-agente-123"}' | json_field '["access_token"]')

  echo "[$name] idle RSS: $((rss / 1024)) MiB; start to /readyz: $(( (t1 - t0) / 1000000 )) ms"
  echo "[$name] GET /api/v1/cases?limit=50 as an agent ($cases cases in the unit):"
  TOKEN=$agent wrk -t2 -c"$connections" -d"$duration" --latency -s "$here/wrk-get.lua" "$base/api/v1/cases?limit=50" \
    | grep -E 'Requests/sec|  50%|  99%|Non-2xx|Socket errors' | sed 's/^/    /'
  echo "[$name] POST /api/v1/cases with a first message:"
  TOKEN=$agent UNIT=$unit wrk -t2 -c"$connections" -d"$duration" --latency -s "$here/wrk-post.lua" "$base/api/v1/cases" \
    | grep -E 'Requests/sec|  50%|  99%|Non-2xx|Socket errors' | sed 's/^/    /'
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}

run_backend sqlite "sqlite://$(mktemp -d)/bench.db?mode=rwc"
db="ventanilla_bench_$$"
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db" >/dev/null
trap 'psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null' EXIT
run_backend postgres "postgres://postgres@127.0.0.1:5432/$db"
