#!/usr/bin/env bash
# Builds every plugin crate (plugins/* and tests/plugins/*) as a
# wasm32-wasip2 component. One cargo invocation per plugin: each compiles
# exactly one world of the SDK, and cargo would otherwise unify the SDK's
# world features across them.
#
#   scripts/build-plugins.sh [--release] [--bundled-only] [--bundle DIR]
#
# --bundled-only skips the test fixtures in tests/plugins.
# --bundle DIR also lays out the bundled plugins (plugins/*) as DIR/<id>/
# plugin.toml + plugin.wasm, which `ventanilla serve --bundled-plugins DIR`
# installs at start-up.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=debug
flags=()
bundle=""
dirs="plugins/*/ tests/plugins/*/"
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile=release; flags+=(--release) ;;
    --bundle) bundle="$2"; shift ;;
    --bundled-only) dirs="plugins/*/" ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
target_dir=${CARGO_TARGET_DIR:-target}
for dir in $dirs; do
  [ -f "$dir/Cargo.toml" ] || continue
  name=$(basename "$dir")
  cargo build --quiet --locked --target wasm32-wasip2 "${flags[@]}" -p "$name"
done
if [ -n "$bundle" ]; then
  mkdir -p "$bundle"
  for dir in plugins/*/; do
    [ -f "$dir/plugin.toml" ] || continue
    name=$(basename "$dir")
    id=$(sed -n 's/^id = "\(.*\)"/\1/p' "$dir/plugin.toml" | head -1)
    mkdir -p "$bundle/$id"
    cp "$dir/plugin.toml" "$bundle/$id/plugin.toml"
    cp "$target_dir/wasm32-wasip2/$profile/${name//-/_}.wasm" "$bundle/$id/plugin.wasm"
  done
fi
