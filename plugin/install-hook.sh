#!/usr/bin/env bash
# Helm's install/update hook: builds bin/helm-xmpp from source (release profile) when it is missing
# or older than the sources. Needs cargo and the wasm32-unknown-unknown target (tests/setup adds it).
set -euo pipefail
cd "${HELM_PLUGIN_DIR:-$(dirname "$0")/..}"
bin=bin/helm-xmpp
if [ -x "$bin" ] && [ -z "$(find Cargo.lock Cargo.toml grammar compiler guest plugin -newer "$bin" -type f -print -quit)" ]; then
  exit 0
fi
command -v cargo >/dev/null || { echo "helm-xmpp: cargo is needed to build the plugin (https://rustup.rs)" >&2; exit 1; }
rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown >&2
echo "helm-xmpp: building from source (first time only)…" >&2
cargo build --release --locked -p helm-xmpp >&2
mkdir -p bin
cp "${CARGO_TARGET_DIR:-target}/release/helm-xmpp" "$bin.tmp.$$" && mv "$bin.tmp.$$" "$bin"
