#!/usr/bin/env bash
# One node per run dir, and nodes side by side. While the suite's node runs:
#   - the scenario runner and `node start` again with its run dir refuse at once (exit 3, saying why),
#     and the node still answers with the same init, its logs still there;
#   - a node with another run dir (HELM_XMPP_KUBE_RUN) starts, answers on its own and stops beside it,
#     and the suite's node still answers, with the same init and its cgroups.
set -euo pipefail
SCENARIO=one-node-per-run-dir
. "$(dirname "$0")/lib.sh"
CLUSTER=$(cd "$(dirname "$0")/.." && pwd)

ENV_FILE=$("$NODE" env)
RUN1=$(dirname "$ENV_FILE")
INIT1=$(sed -n 's/^NODE_PID=//p' "$ENV_FILE")
# the suite's node: it answers, with the init it started with, in the cgroups it started in
first_node_intact() {
  local out d
  out=$(k get --raw /readyz 2>&1) || true
  [ "$out" = ok ] || fail "$1: the suite's node does not answer /readyz: $out"
  if [ "$(cat "$RUN1/init.pid")" != "$INIT1" ] || ! kill -0 "$INIT1"; then fail "$1: the suite's node lost its init"; fi
  while read -r d; do [ -d "$d" ] || fail "$1: the suite's node lost its cgroup $d"; done < "$RUN1/cgroups"
}
first_node_intact "before"

# refused WHAT RC OUT: WHAT exited RC (3: refused) and said, in OUT, that the run dir is taken; the node is intact
refused() {
  local what=$1 rc=$2 out=$3
  [ "$rc" = 3 ] || fail "$what with the node's run dir exited $rc, not 3: $out"
  grep -q "already running with run dir $RUN1" <<<"$out" || fail "$what: the refusal does not say why: $out"
  first_node_intact "after $what"
  step "$what with the same run dir refused: $(grep -m1 'already running' <<<"$out")"
}
out=$(bash "$CLUSTER/run-scenarios" 00-smoke 2>&1) && rc=0 || rc=$?
refused "a second run-scenarios" "$rc" "$out"
[ -d "$SCENARIO_TMP" ] || fail "the second run-scenarios removed this run's logs"
out=$("$NODE" start 2>&1) && rc=0 || rc=$?
refused "a second node start" "$rc" "$out"

# a second node beside the first, its run dir named after the first's (one lock file in the cache for
# it, whatever the run; short, as the sockets under it must stay within 107 bytes)
RUN2=$RUN1-beside
node2() { HELM_XMPP_KUBE_RUN=$RUN2 "$NODE" "$@"; }
trap 'node2 stop >/dev/null 2>&1 || true' EXIT
START_MS=$(now_ms)
node2 start >"$SCENARIO_TMP/start2.out" 2>"$SCENARIO_TMP/start2.err" ||
  { cat "$SCENARIO_TMP/start2.err" >&2; fail "a node with run dir $RUN2 did not start beside the first"; }
step "a second node (run dir $RUN2) started beside the first in $(( $(now_ms) - START_MS )) ms"
[ "$(node2 kubectl get --raw /readyz 2>&1)" = ok ] || fail "the second node does not answer /readyz"
[ "$(cat "$RUN2/init.pid")" != "$INIT1" ] || fail "the second node has the first one's init"
if grep -qxFf "$RUN1/cgroups" "$RUN2/cgroups"; then fail "the two nodes share a cgroup"; fi
# each its own cluster: what is made in the second is not in the first
node2 kubectl create namespace only-in-the-second-node >/dev/null
if k get namespace only-in-the-second-node >/dev/null 2>&1; then fail "the second node's namespace shows in the first"; fi
first_node_intact "with a second node running"

START_MS=$(now_ms)
node2 stop 2>"$SCENARIO_TMP/stop2.err" || { cat "$SCENARIO_TMP/stop2.err" >&2; fail "the second node did not stop"; }
trap - EXIT
[ ! -e "$RUN2" ] || fail "the second node's run dir $RUN2 is left"
if node2 running; then fail "the second node still runs after its stop"; fi
first_node_intact "after the second node's stop"
step "the second node stopped in $(( $(now_ms) - START_MS )) ms; the suite's node still answers, same init, same cgroups"
