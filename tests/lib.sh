# shellcheck shell=bash disable=SC2034  # the facts are read by the scripts that source this
# The harness's facts and helpers, each spelled once. Sourced, never run, by tests/setup, examples/run,
# bench/measure, tests/cluster/node (and its node.d/*.sh), tests/cluster/run-scenarios and the scenarios.
# Sets no shell options and runs nothing: each script keeps its own `set -euo pipefail`.

# ---------------------------------------------------------------- where things are
# The tools tests/setup installs; HELM_XMPP_CACHE moves them all (tests/common/mod.rs reads it too).
HX_CACHE=${HELM_XMPP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/helm-xmpp}
HX_BIN=$HX_CACHE/bin                # helm3, helm4 (each with a .version stamp)
HX_HURL_DIR=$HX_CACHE/hurl          # `cargo install --root`: the binary is $HX_HURL_DIR/bin/hurl
HX_DENY_DIR=$HX_CACHE/cargo-deny    # `cargo install --root`: the dependency policy check (deny.toml)
HX_VENV=$HX_CACHE/venv              # Python with slixmpp and kubernetes-validate (and PyYAML)
HX_NPM=$HX_CACHE/npm                # node_modules with @kubernetes-models/gke (GKE's CRD schemas)
HX_SARIF=$HX_CACHE/sarif            # sarif-schema-2.1.0.json, the schema `check --format sarif` is held to
HX_CT=$HX_CACHE/ct                  # chart-testing's lintconf.yaml and chart_schema.yaml, for `ct lint`
# The node's binaries and images (tests/cluster/node build, images); HELM_XMPP_KUBE_CACHE moves them.
HX_KUBE_CACHE=${HELM_XMPP_KUBE_CACHE:-$HX_CACHE/kube}
# A node's run dir (`node start`; `node stop` removes it). Each run dir is a node of its own, so
# HELM_XMPP_KUBE_RUN lets two nodes run side by side.
HX_KUBE_RUN=${HELM_XMPP_KUBE_RUN:-/tmp/helm-xmpp-kube}
# ejabberd 24.12 and Prosody 13.0.1 unpacked from bookworm-backports; tests/servers.rs reads it too.
HX_SERVERS=${HELM_XMPP_SERVERS:-/opt/helm-xmpp/servers}

# ---------------------------------------------------------------- versions
HELM3_VERSION=v3.21.4
HELM4_VERSION=v4.2.4
HURL_VERSION=8.0.1                  # 8.1.0 needs a newer Rust than this machine has
CARGO_DENY_VERSION=0.20.2
SLIXMPP_VERSION=1.17.0
KUBERNETES_VALIDATE_VERSION=1.37.0  # the Kubernetes schemas the rendered chart is validated against
GKE_MODELS_VERSION=4.6.2            # @kubernetes-models/gke: GKE's CRD schemas, for the GKE objects
GO_SARIF_VERSION=v3.3.1             # github.com/owenrumney/go-sarif/v3, which carries OASIS's SARIF 2.1.0 schema
HELM_DOCS_VERSION=v1.14.2           # writes the chart README's values table from values.yaml's `# --` comments
CHART_TESTING_VERSION=v3.14.0       # `ct lint`, with the yamllint and yamale it runs:
YAMLLINT_VERSION=1.38.0
YAMALE_VERSION=6.1.0
DISTRIBUTION_VERSION=v3.1.2         # the CNCF distribution registry: the chart pushed to oci:// on the node
VSCE_VERSION=4.1.0                  # @vscode/vsce: packages the VS Code extension (release/vsix)
VSCODE_TEXTMATE_VERSION=9.3.2       # vscode-textmate and vscode-oniguruma: VS Code's own highlighter, for
VSCODE_ONIGURUMA_VERSION=2.0.1      # the grammar's tests (tests/editor.rs)
K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
COREDNS_VERSION=v1.15.0
TRAEFIK_VERSION=v3.7.13             # the Ingress and Gateway API controller of the chart's edge scenarios
GATEWAY_API_VERSION=v1.6.1          # the Gateway API CRDs: the version TRAEFIK_VERSION is built with
PROMETHEUS_VERSION=v0.316.0         # Prometheus 3.x as a Go module

# ---------------------------------------------------------------- helpers
# log MSG...: "[script HH:MM:SS] MSG" on stderr. die MSG...: the same, then exit 1.
log() { printf '[%s %s] %s\n' "${0##*/}" "$(date +%T)" "$*" >&2; }
die() { log "$*"; exit 1; }

# apt_ensure PKG...: installs the Debian packages that are missing, and starts none of their services: a
# policy-rc.d that refuses them stands while apt runs, removed after only if it was not there before.
# Quiet and quick when every package is there.
apt_ensure() {
  local p missing=() prc=/usr/sbin/policy-rc.d created='' rc=0
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  log "apt-get install ${missing[*]}"
  if [ ! -e $prc ]; then printf '#!/bin/sh\nexit 101\n' >$prc && chmod +x $prc && created=1; fi
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    >/dev/null || rc=$?
  [ -z "$created" ] || rm -f $prc
  return $rc
}

# apt_mirror [ARCHIVE]: the URL this machine's apt uses for ARCHIVE (debian, the default, or
# debian-security), from its deb822 or one-line sources; deb.debian.org's when none names it
apt_mirror() {
  local archive=${1:-debian} url
  url=$({ cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
    sed -n -e 's/^URIs:[[:space:]]*//p' -e 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]*\)\?//p' |
    tr ' \t' '\n\n' | awk -v re="^https?://.*/$archive/?\$" '!found && $0 ~ re {print; found = 1}')
  echo "${url:-http://deb.debian.org/$archive}"
}

# xmpp_stream_open DOMAIN: what an XMPP client sends first, the opening of a stream to DOMAIN
xmpp_stream_open() {
  printf '<?xml version="1.0"?><stream:stream to="%s" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" version="1.0">' "$1"
}

# xmpp_probe HOST PORT DOMAIN: opens a client stream to HOST:PORT and prints what the server answers
# within 3 s (<stream:features> when it serves DOMAIN); fails only when the port does not accept
xmpp_probe() {
  local fd
  exec {fd}<>"/dev/tcp/$1/$2" || return 1
  xmpp_stream_open "$3" >&"$fd"
  timeout 3 cat <&"$fd" || true
  exec {fd}>&-
}
