#!/usr/bin/env bash
# Latency of unrelated API requests (GET /api/v1/cases?limit=50 with 10k
# cases) on an idle host, then while one plugin install spins in an infinite
# loop on every event (a dry run kept continuously in flight, each call
# stopped at its CPU deadline). Release build; needs wrk.
# Usage: benches/plugin-isolation.sh [target/release/ventanilla] [hostile_bot.wasm]
set -euo pipefail
bin=${1:-target/release/ventanilla}
# The benchmarks\' helper (`seed`), built with `cargo build --release -p ventanilla-bench`.
bench=${BENCH_BIN:-$(dirname "$bin")/ventanilla-bench}
wasm=${2:-target/wasm32-wasip2/release/hostile_bot.wasm}
duration=${BENCH_DURATION:-15s}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
export VENTANILLA_DATA_DIR=$dir VENTANILLA_LOG__FILTER=warn VENTANILLA_PLUGINS__SUSPEND_AFTER=100000000
"$bin" migrate >/dev/null
printf 'clave-de-bench-123\n' | "$bin" admin create --email bench@test.example --password-file - >/dev/null
"$bin" serve --listen "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
until curl -fsS "$base/readyz" >/dev/null 2>&1; do sleep 0.05; done
token=$(curl -fsS -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"bench@test.example","password":"clave-de-bench-123"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -fsS -X POST "$base/api/v1/units" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"slug":"admisiones","name":"Admisiones"}' >/dev/null
"$bench" seed --unit admisiones --cases 10000 >/dev/null
cat > "$dir/plugin.toml" <<'TOML'
id = "hostile-bot"
name = "Hostile"
version = "1.0.0"
world = "bot"
wit = "1.0.0"
[settings_schema]
type = "object"
[settings_schema.properties.mode]
type = "string"
TOML
curl -fsS -X POST "$base/api/v1/plugins" -H "authorization: Bearer $token" \
  -F "manifest=@$dir/plugin.toml" -F "component=@$wasm" >/dev/null
install=$(curl -fsS -X POST "$base/api/v1/plugin-installs" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"plugin_id":"hostile-bot","name":"spinner","settings":{"mode":"loop"}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

measure() {
  TOKEN=$token wrk -t2 -c16 -d"$duration" --latency -s "$here/wrk-get.lua" "$base/api/v1/cases?limit=50" \
    | grep -E 'Requests/sec|  50%|  99%|Non-2xx' | sed 's/^/    /'
}
echo "idle host: GET /api/v1/cases?limit=50"
measure
echo "one plugin spinning on every event (one call always in flight):"
TOKEN=$token wrk -t1 -c1 -d"$duration" -s "$here/wrk-spin.lua" "$base/api/v1/plugin-installs/$install/test" > "$dir/spin.txt" &
spinner=$!
sleep 1
measure
wait $spinner || true
echo "    spinning calls completed: $(grep -Eo '[0-9]+ requests' "$dir/spin.txt" | head -1)"
