#!/usr/bin/env bash
# The console's first load, in Debian's headless Chromium over loopback,
# release build: time from navigation start to the inbox drawn with its
# data (the `ventanilla:interactive` mark the console sets), and the bytes
# the browser transferred for it (Resource Timing). Five cold loads (a fresh
# browser profile each) and five warm ones (cached assets); the median of each.
# Usage: benches/console-load.sh [path/to/release/ventanilla]
#   (needs chromium and chromium-driver; bytes of a load without a browser:
#    `ventanilla-bench console`)
set -euo pipefail
bin=${1:-${CARGO_TARGET_DIR:-target}/release/ventanilla}
command -v chromedriver >/dev/null || { echo "chromedriver is needed: apt-get install chromium chromium-driver" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

dir=$(mktemp -d); port=$(free_port); base="http://127.0.0.1:$port"; driver_port=$(free_port)
export VENTANILLA_DATA_DIR=$dir VENTANILLA_LOG__FILTER=warn
"$bin" serve --demo --listen "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
server=$!
chromedriver --port="$driver_port" >/dev/null 2>&1 &
driver=$!
trap 'kill $server $driver 2>/dev/null; rm -rf "$dir"' EXIT
until curl -fsS "$base/readyz" >/dev/null 2>&1; do sleep 0.05; done

python3 - "$base" "$driver_port" <<'PY'
import json, statistics, sys, time, urllib.request
base, port = sys.argv[1], sys.argv[2]
wd = f"http://127.0.0.1:{port}"

def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(wd + path, data=data, method=method, headers={"content-type": "application/json"})
    return json.load(urllib.request.urlopen(req))["value"]

def login():
    req = urllib.request.Request(base + "/api/v1/auth/login", method="POST", headers={"content-type": "application/json"},
        data=json.dumps({"email": "juan.pardo@demo.ventanilla.test", "password": "ventanilla-demo"}).encode())
    tokens = json.load(urllib.request.urlopen(req))
    return {"access": tokens["access_token"], "refresh": tokens["refresh_token"], "expires": int(time.time() * 1000) + tokens["expires_in"] * 1000}

MEASURE = """
const done = arguments[arguments.length - 1];
const started = Date.now();
(function wait() {
  const mark = performance.getEntriesByName('ventanilla:interactive')[0];
  if (mark) {
    const entries = [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')];
    const bytes = entries.reduce((sum, e) => sum + (e.transferSize || 0), 0);
    return done({ ms: mark.startTime, bytes, requests: entries.length });
  }
  if (Date.now() - started > 20000) return done(null);
  setTimeout(wait, 10);
})();
"""

def session():
    caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1366,900"]}}}}
    return call("POST", "/session", caps)["sessionId"]

def load(sid, warm):
    if not warm:
        call("POST", f"/session/{sid}/url", {"url": base + "/help/faq"})
        call("POST", f"/session/{sid}/execute/sync", {"script": "localStorage.setItem('ventanilla.session', arguments[0]); return true;", "args": [json.dumps(login())]})
    # A warm load is a new page (another query string) with the assets cached.
    page = "/console/?warm#/inbox/mine" if warm else "/console/#/inbox/mine"
    call("POST", f"/session/{sid}/url", {"url": base + page})
    return call("POST", f"/session/{sid}/execute/async", {"script": MEASURE, "args": []})

cold, warm = [], []
for _ in range(5):
    sid = session()
    cold.append(load(sid, False))
    warm.append(load(sid, True))
    call("DELETE", f"/session/{sid}")
for name, runs in (("cold", cold), ("warm", warm)):
    runs = [r for r in runs if r]
    print(f"console first load ({name}, median of {len(runs)}): interactive after {statistics.median(r['ms'] for r in runs):.0f} ms, "
          f"{statistics.median(r['bytes'] for r in runs) / 1024:.1f} KB transferred in {statistics.median(r['requests'] for r in runs):.0f} requests")
PY
