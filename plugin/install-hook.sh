#!/usr/bin/env bash
# Helm's install/update hook: puts bin/helm-xmpp in place.
#  1. An archive install (`helm plugin install …/helm-xmpp-VERSION-OS-ARCH.tar.gz`) brought it: done.
#     (The archive's root is the plugin's folder: plugin.yaml, bin/helm-xmpp, …)
#  2. Otherwise the release archive for this platform, from $HELM_XMPP_RELEASE_URL (default: the
#     project's release of this version), checked against the release's checksums file: a mismatch is
#     refused and nothing is installed.
#  3. No archive for this platform (or HELM_XMPP_RELEASE_URL=none): built from source, which needs
#     cargo and the wasm32-unknown-unknown target.
# Helm runs it as `install-hook.sh install` or `… update` (plugin.yaml): a refused install leaves no
# plugin behind; a refused update leaves the plugin as it was, with the binary it had.
set -euo pipefail
event=${1:-install}
cd "${HELM_PLUGIN_DIR:-$(dirname "$0")/..}"
bin=bin/helm-xmpp
version=$(sed -n 's/^version: *//p' plugin.yaml)
say() { echo "helm-xmpp: $*" >&2; }

# A built binary of this version, newer than every source in the folder (an archive has none).
fresh() {
  [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "helm-xmpp $version" ] &&
    [ -z "$(find Cargo.lock Cargo.toml grammar compiler guest plugin -newer "$bin" -type f -print -quit 2>/dev/null)" ]
}
fresh && exit 0

# 2. The release archive for this platform.
case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) os=unknown ;; esac
case "$(uname -m)" in x86_64 | amd64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch=unknown ;; esac
url=${HELM_XMPP_RELEASE_URL-https://github.com/helm-xmpp/helm-xmpp/releases/download/v$version}
url=${url%/}
archive=helm-xmpp-$version-$os-$arch.tar.gz
# Helm leaves a plugin whose install hook failed in its plugins folder: take this one's entry out (a
# link to a local folder is removed, never what it points to), so that a refused install leaves nothing.
unregister() {
  local entry=${HELM_PLUGIN_DIR:-} dir
  [ -n "$entry" ] || return 0
  # Helm's plugins folder: Helm 3 says it (HELM_PLUGINS); Helm 4 keeps them in its data folder.
  for dir in ${HELM_PLUGINS:-} ${HELM_DATA_HOME:+"$HELM_DATA_HOME/plugins"} "${XDG_DATA_HOME:-$HOME/.local/share}/helm/plugins"; do
    if [ "$(dirname "$entry")" -ef "$dir" ]; then
      if [ -L "$entry" ]; then rm -f "$entry"; else rm -rf "$entry"; fi
      return 0
    fi
  done
}
fetch() { curl -fsSL --proto '=https,http' --connect-timeout 10 --max-time 300 -o "$2" "$1"; }
if [ "$url" != none ] && command -v curl >/dev/null; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  if fetch "$url/helm-xmpp-$version-checksums.txt" "$tmp/checksums" 2>/dev/null; then
    want=$(awk -v f="$archive" '$2 == f || $2 == "*" f {print $1}' "$tmp/checksums")
    if [ -n "$want" ]; then
      fetch "$url/$archive" "$tmp/$archive" || { say "cannot download $url/$archive"; exit 1; }
      got=$(sha256sum "$tmp/$archive" | cut -d' ' -f1)
      if [ "$got" != "$want" ]; then
        say "refusing $url/$archive: its sha256 is $got, the release's checksums file says $want"
        if [ "$event" = update ]; then
          say "(a tampered or truncated download); nothing was changed: the plugin keeps the binary it had"
        else
          say "(a tampered or truncated download); nothing was installed"
          unregister
        fi
        exit 1
      fi
      tar -xzf "$tmp/$archive" -C "$tmp" bin/helm-xmpp
      mkdir -p bin
      install -m 0755 "$tmp/bin/helm-xmpp" "$bin.tmp.$$" && mv "$bin.tmp.$$" "$bin"
      say "installed $archive from $url (sha256 checked)"
      exit 0
    fi
    say "no archive for $os-$arch in $url; building from source"
  else
    say "no release at $url; building from source"
  fi
fi

# 3. From source.
[ -f Cargo.toml ] || { say "no archive for $os-$arch and no sources to build from"; exit 1; }
command -v cargo >/dev/null || { say "cargo is needed to build the plugin (https://rustup.rs)"; exit 1; }
rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown >&2
say "building from source (first time only)…"
cargo build --release --locked -p helm-xmpp >&2
mkdir -p bin
cp "${CARGO_TARGET_DIR:-target}/release/helm-xmpp" "$bin.tmp.$$" && mv "$bin.tmp.$$" "$bin"
