#!/usr/bin/env bash
# Fuzzes the running binary from its own OpenAPI document: any 5xx or any
# response that does not match the schema fails CI.
set -euo pipefail
bin=${1:?path to the ventanilla binary}
examples=${SCHEMATHESIS_EXAMPLES:-25}
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
export VENTANILLA_DATA_DIR="$dir" VENTANILLA_AUTH__LOGIN_ATTEMPTS_PER_IP_PER_MINUTE=100000 VENTANILLA_AUTH__LOGIN_ATTEMPTS_PER_ACCOUNT=100000
printf 'clave-de-fuzzing-123\n' | "$bin" admin create --email fuzz@test.example --password-file - >/dev/null
"$bin" serve --demo --listen "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do curl -fsS "$base/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
login() {
  curl -fsS -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"email":"fuzz@test.example","password":"clave-de-fuzzing-123"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
fuzz() {
  st run "$base/api/v1/openapi.json" \
    --url "$base/api/v1" \
    --request-timeout 60 \
    --header "Authorization: Bearer $(login)" \
    --checks not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance \
    --max-examples "$examples" \
    --seed 42 \
    --suppress-health-check all \
    "$@"
}
# /stream is a live event stream that stays open for minutes: it is tested
# by tests/api/routing.rs, not fuzzed. /auth/sessions/end signs the fuzzer
# out everywhere (tested by tests/api/two_factor.rs).
# Ending one's session or changing one's own password ends the fuzzer's
# token at once (the stateful phase finds its own ids): those two run last,
# on their own, with a fresh sign-in.
last=(--exclude-name 'DELETE /auth/sessions/{session_id}' --exclude-name 'PATCH /users/{user_id}')
fuzz --exclude-path /stream --exclude-path /auth/sessions/end "${last[@]}"
fuzz --include-name 'DELETE /auth/sessions/{session_id}' --include-name 'PATCH /users/{user_id}'
