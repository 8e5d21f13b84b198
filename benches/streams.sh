#!/usr/bin/env bash
# Staff API latency while anonymous visitors hold the server's streams
# (issue 20): GET /api/v1/cases?limit=50 as an agent, measured by wrk
#   1. idle,
#   2. with 3,000 open web-chat event streams, and
#   3. with those streams plus a burst of anonymous sessions at the rate the
#      instance admits (streams.webchat_sessions_per_second, 100 a second),
#   4. with the streams plus a flood of sessions as fast as the load
#      generator can send them (most refused with 429), and
#   5. with the streams plus a burst of anonymous conversations (each a
#      session, a case and its first message: writes the staff API's
#      reads share the database with).
# The aim: p99 with streams and sessions within 1.5x of idle. SQLite,
# release build; on a 2-core machine the load generators share the cores.
# Usage: benches/streams.sh [path/to/release/ventanilla]   (needs wrk)
set -euo pipefail
bin=${1:-target/release/ventanilla}
# The benchmarks\' helper (`seed`), built with `cargo build --release -p ventanilla-bench`.
bench=${BENCH_BIN:-$(dirname "$bin")/ventanilla-bench}
streams=${BENCH_STREAMS:-3000}
burst=${BENCH_BURST:-25000}
admitted=${BENCH_ADMITTED:-100}
conversations=${BENCH_CONVERSATIONS:-600}
duration=${BENCH_DURATION:-20s}
here=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
# Every stream is a socket on both ends.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

dir=$(mktemp -d); port=$(free_port); base="http://127.0.0.1:$port"
export VENTANILLA_DATA_DIR=$dir VENTANILLA_LOG__FILTER=warn
export VENTANILLA_AUTH__LOGIN_ATTEMPTS_PER_IP_PER_MINUTE=10000
# One address plays every visitor here: lift the per-address caps, keep the rest.
export VENTANILLA_STREAMS__PER_ADDRESS=100000 VENTANILLA_STREAMS__TOTAL=10000
export VENTANILLA_STREAMS__WEBCHAT_SESSIONS_PER_ADDRESS_PER_HOUR=100000
# Opening the 3,000 streams needs more sessions at once than the instance-wide
# limit lets through; the bursts then meet the default.
export VENTANILLA_STREAMS__WEBCHAT_SESSIONS_PER_SECOND=${BENCH_SESSIONS_PER_SECOND:-100}
export VENTANILLA_STREAMS__WEBCHAT_CONVERSATIONS_PER_ADDRESS_PER_HOUR=100000
export VENTANILLA_HTTP__PUBLIC_REQUESTS_PER_IP_PER_MINUTE=1000000
"$bin" migrate >/dev/null
printf 'clave-de-bench-123\n' | "$bin" admin create --email bench@test.example --password-file - >/dev/null
"$bin" serve --listen "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid ${holder:-} 2>/dev/null || true; rm -rf "$dir"' EXIT
until curl -fsS "$base/readyz" >/dev/null 2>&1; do sleep 0.05; done

admin=$(curl -fsS -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"bench@test.example","password":"clave-de-bench-123"}' | json_field '["access_token"]')
unit=$(curl -fsS -X POST "$base/api/v1/units" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
  -d '{"slug":"admisiones","name":"Admisiones"}' | json_field '["id"]')
curl -fsS -X POST "$base/api/v1/users" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
  -d "{\"email\":\"agente@test.example\",\"display_name\":\"Agente\",\"password\":\"clave-de-agente-123\",\"memberships\":[{\"unit_id\":\"$unit\",\"role\":\"agent\"}]}" >/dev/null
"$bench" seed --unit admisiones --cases 10000 >/dev/null
agent=$(curl -fsS -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"agente@test.example","password":"clave-de-agente-123"}' | json_field '["access_token"]')

measure() {
  TOKEN=$agent wrk -t1 -c8 -d"$duration" --latency -s "$here/wrk-get.lua" "$base/api/v1/cases?limit=50" \
    | grep -E 'Requests/sec|  50%|  99%|Non-2xx|Socket errors' | sed 's/^/    /'
}

echo "idle:"
measure
python3 "$here/streams.py" open "$base" "$streams" >"$dir/holder.log" 2>&1 &
holder=$!
until grep -q "open streams: $streams " "$dir/holder.log" 2>/dev/null; do
  kill -0 $holder 2>/dev/null || { cat "$dir/holder.log"; exit 1; }
  sleep 1
done
echo "with $streams idle web-chat streams (RSS $(( $(ps -o rss= -p "$pid") / 1024 )) MiB):"
measure
seconds=${duration%s}
echo "with the streams and $admitted anonymous sessions a second (what the instance admits):"
python3 "$here/streams.py" burst "$base" $((admitted * seconds)) 16 sessions "$admitted" &
bursting=$!
measure
wait $bursting
echo "with the streams and a flood of $burst anonymous sessions:"
python3 "$here/streams.py" burst "$base" "$burst" 16 sessions &
bursting=$!
measure
wait $bursting
echo "with the streams and a burst of $conversations anonymous conversations:"
python3 "$here/streams.py" burst "$base" "$conversations" 16 conversations &
bursting=$!
measure
wait $bursting
tail -1 "$dir/holder.log" | sed 's/^/    /'
