#!/usr/bin/env bash
# Ventanilla's plugin figures and the Extism peer's, in one run (release).
#   bash benches/extism-peer/run.sh [iterations]
set -euo pipefail
cd "$(dirname "$0")"
iterations=${1:-5000}
rustup target add wasm32-unknown-unknown wasm32-wasip2 >/dev/null
(cd guest && cargo build --quiet --release --target wasm32-unknown-unknown)
cargo build --quiet --release
root=$(cd ../.. && pwd)
release_dir=${VENTANILLA_RELEASE_DIR:-$HOME/.cache/ventanilla-release}
(cd "$root" && CARGO_TARGET_DIR="$release_dir" cargo build --quiet --release -p ventanilla \
  && CARGO_TARGET_DIR="$release_dir" cargo build --quiet --release --target wasm32-wasip2 -p hostile-bot)
echo "== ventanilla (wasmtime component, fresh instance per event)"
"$release_dir/release/ventanilla" bench plugins "$release_dir/wasm32-wasip2/release/hostile_bot.wasm" --iterations "$iterations"
echo "== extism peer"
./target/release/extism-peer guest/target/wasm32-unknown-unknown/release/extism_peer_guest.wasm "$iterations"
