# shellcheck shell=bash
# Sourced by the scenarios. `run-scenarios` sets NODE (the node script) and SCENARIO_TMP (a scratch dir).
: "${NODE:?run the scenarios through tests/cluster/run-scenarios}"
: "${SCENARIO_TMP:=$(mktemp -d)}"
HX_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/lib.sh
# shellcheck source=../../lib.sh
. "$HX_LIB"

k() { "$NODE" exec kubectl "$@"; }                  # kubectl inside the node's namespaces
in_node() { "$NODE" exec "$@"; }                     # any command there (helm3, helm4, curl, ...)
step() { printf '[%s %s] %s\n' "$(date +%T)" "${SCENARIO:-scenario}" "$*"; }
fail() { step "FAIL: $*" >&2; exit 1; }             # stderr: seen even inside $(...)
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# restricted_namespace NAME: a fresh namespace enforcing the `restricted` Pod Security level, with its
# default ServiceAccount (kube-controller-manager adds it a moment after the namespace)
restricted_namespace() {
  k delete namespace "$1" --ignore-not-found --wait=true >/dev/null
  k create namespace "$1" >/dev/null
  k label namespace "$1" pod-security.kubernetes.io/enforce=restricted \
    pod-security.kubernetes.io/enforce-version=latest >/dev/null
  for _ in $(seq 100); do k -n "$1" get serviceaccount default >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "no default ServiceAccount in namespace $1"
}

# wait_ready NS POD TIMEOUT_S: returns once the pod is Ready; fails with its state, events and logs if not
wait_ready() {
  if ! k -n "$1" wait --for=condition=Ready "pod/$2" --timeout="${3}s" >/dev/null; then
    k -n "$1" get pod "$2" -o wide || true
    k -n "$1" describe pod "$2" | tail -25 || true
    k -n "$1" logs "$2" --all-containers --tail=50 || true
    fail "pod $1/$2 not Ready after $3 s"
  fi
}

# xmpp_features NODE_PORT DOMAIN: opens an XMPP client stream to 127.0.0.1:PORT inside the node's namespace
# and prints the server's answer (it must hold <stream:features>)
xmpp_features() {
  in_node bash -c '. "$1"; xmpp_probe 127.0.0.1 "$2" "$3"' _ "$HX_LIB" "$1" "$2"
}

# port_forward NS TARGET LOCAL:REMOTE: starts `kubectl port-forward` inside the node (listening on its
# 127.0.0.1) in the background until the port answers; prints its pid (the caller kills it)
port_forward() {
  local ns=$1 target=$2 ports=$3 pid
  "$NODE" exec kubectl -n "$ns" port-forward "$target" "$ports" > "$SCENARIO_TMP/port-forward.$$.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    if in_node bash -c "exec 3<>/dev/tcp/127.0.0.1/${ports%%:*}" 2>/dev/null; then echo "$pid"; return 0; fi
    sleep 0.1
  done
  cat "$SCENARIO_TMP/port-forward.$$.log" >&2
  kill "$pid" 2>/dev/null || true
  fail "port-forward $ns/$target $ports never answered"
}
