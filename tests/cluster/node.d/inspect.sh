# shellcheck shell=bash
# `node logs` and `node status`: what a running (or failed) node did and holds. Sourced by tests/cluster/node.

cmd_logs() { # DIR: every component's log, the pods' container logs, events and object dumps
  local dir=${1:?usage: node logs DIR}
  mkdir -p "$dir"
  [ -d "$RUN" ] || { log "no run dir $RUN: no logs"; return 0; }
  cp -r "$RUN/log" "$dir/components" 2>/dev/null || true
  [ ! -d "$RUN/pod-logs" ] || cp -rL "$RUN/pod-logs" "$dir/pod-logs" 2>/dev/null || true
  running || return 0
  local k=(timeout 30 kubectl --request-timeout=10s)
  in_ns "${k[@]}" get events -A --sort-by=.lastTimestamp -o wide > "$dir/events.txt" 2>&1 || true
  in_ns "${k[@]}" get all,pvc,pv,cm,sa,ns -A -o wide > "$dir/objects.txt" 2>&1 || true
  in_ns "${k[@]}" describe pods -A > "$dir/pods-describe.txt" 2>&1 || true
  in_ns "${k[@]}" get nodes -o yaml > "$dir/node.yaml" 2>&1 || true
  local ns pod
  mkdir -p "$dir/kubectl-logs"
  in_ns "${k[@]}" get pods -A -o 'jsonpath={range .items[*]}{.metadata.namespace} {.metadata.name}{"\n"}{end}' 2>/dev/null |
    while read -r ns pod; do
      in_ns "${k[@]}" -n "$ns" logs "$pod" --all-containers --prefix --timestamps > "$dir/kubectl-logs/$ns.$pod.log" 2>&1 || true
      in_ns "${k[@]}" -n "$ns" logs "$pod" --all-containers --prefix --timestamps --previous \
        > "$dir/kubectl-logs/$ns.$pod.previous.log" 2>/dev/null || rm -f "$dir/kubectl-logs/$ns.$pod.previous.log"
    done
}

cmd_status() { # the node's memory: its memory cgroup (pods included), RSS per component and in all
  running || { echo "not running"; return 1; }
  local mem total cgs
  mem=$(grep '/memory/' "$RUN/cgroups" 2>/dev/null || true)
  echo "run dir $RUN; init: host PID $(cat "$RUN/init.pid")"
  [ -z "$mem" ] || echo "memory cgroup: $(( $(cat "$mem/memory.usage_in_bytes") / 1048576 )) MB used (page cache included)"
  # every process of the node (pods included) is in its cgroups
  mapfile -t cgs < "$RUN/cgroups"
  total=$(find "${cgs[@]}" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u |
    while read -r p; do awk '/^VmRSS/{print $2}' "/proc/$p/status" 2>/dev/null; done | awk '{s+=$1} END {printf "%d", s/1024}')
  # the PID files hold PIDs inside the node: read them there
  in_ns bash -c '
    comp=0
    for f in "$1"/pid/*; do
      r=$(awk "/^VmRSS/{print int(\$2/1024)}" "/proc/$(cat "$f")/status" 2>/dev/null || echo 0)
      comp=$((comp + r)); printf "  %-24s %5s MB\n" "${f##*/}" "$r"
    done
    printf "  %-24s %5s MB\n" "pods, shims, the rest" "$(($2 - comp))" "all processes (RSS sum)" "$2"' _ "$RUN" "$total"
}
