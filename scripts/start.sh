#!/usr/bin/env bash
# Starts Ventanilla with its embedded defaults: SQLite under ./data, the
# bundled plugins (built here for wasm32-wasip2), and whatever flags you add
# (e.g. --demo for a demo institution in Spanish).
#
#   bash scripts/start.sh --demo
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
target_dir=${CARGO_TARGET_DIR:-target}
bundle="$target_dir/bundled-plugins"
scripts/build-plugins.sh --release --bundled-only --bundle "$bundle"
exec cargo run --release --locked -p ventanilla -- serve --bundled-plugins "$bundle" "$@"
