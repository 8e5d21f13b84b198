#!/usr/bin/env bash
# The performance budget of issue 21 in one run on one machine: the API
# figures (benches/api.sh: idle RSS, GET /cases?limit=50 and POST /cases with
# a first message, 100k cases in the agent's unit, wrk 2 threads and 32
# connections) for each Ventanilla build given, on SQLite and PostgreSQL,
# then django-helpdesk 2.6.1 (../shared/peers) on the same machine with the
# same wrk settings: its ticket list with the per-row query loop removed
# (`plist`) and its ticket create (`post`), gunicorn with 2 sync workers.
#
# Usage: benches/budget.sh NAME=path/to/ventanilla[:path/to/ventanilla-bench] ...
#   e.g. benches/budget.sh first=/tmp/first/ventanilla:/tmp/vb-first now=target/release/ventanilla
# Needs wrk, PostgreSQL at 127.0.0.1:5432, python3 (the peer installs itself
# into ~/.cache/peers/dh from PyPI the first time).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
peers=${PEERS:-$here/../../shared/peers}
[ $# -gt 0 ] || { sed -n '2,13p' "$0"; exit 2; }

for build in "$@"; do
  name=${build%%=*}
  paths=${build#*=}
  bin=${paths%%:*}
  bench=$([ "$paths" != "$bin" ] && echo "${paths#*:}" || echo "$(dirname "$bin")/ventanilla-bench")
  echo "=== Ventanilla ($name: $bin)"
  BENCH_BIN=$bench bash "$here/api.sh" "$bin" 2>&1 | sed "s/^/  /"
done

if [ -d "$peers/django-helpdesk" ]; then
  dh=${PEER_DIR:-$HOME/.cache/peers/dh}
  [ -f "$dh/token.txt" ] || bash "$peers/django-helpdesk/setup.sh" "$dh" 100000 >/dev/null
  echo "=== django-helpdesk 2.6.1 (gunicorn, 2 sync workers, SQLite, 100k tickets)"
  MODES=sync TESTS="plist post" CONNS=32 THREADS=2 DURATION=15 \
    bash "$peers/django-helpdesk/bench.sh" 18080 "$dh" 2>&1 | grep '^RESULT' | sed "s/^/  /"
else
  echo "(no peers directory at $peers: set PEERS)"
fi
