# shellcheck shell=bash
# `node stop`: everything a node started goes, whatever state it is in. Sourced by tests/cluster/node.

cmd_stop() { # everything the node started goes, whatever state it is in; then the run dir
  local h u t0 t1 t2
  t0=$(date +%s%N)
  h=$(cat "$RUN/init.pid" 2>/dev/null || true); u=$(cat "$RUN/unshare.pid" 2>/dev/null || true)
  if [ -n "$h" ] && kill -0 "$h" 2>/dev/null; then
    kill -TERM "$h"       # __inner stops the daemons, then exits: the kernel kills the rest of the namespace
    for _ in $(seq 100); do kill -0 "$h" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$h" 2>/dev/null || true
  fi
  if [ -n "$u" ]; then for _ in $(seq 50); do kill -0 "$u" 2>/dev/null || break; sleep 0.1; done; fi
  t1=$(date +%s%N)
  cg_kill_and_remove || true
  t2=$(date +%s%N)
  # the namespaces die with their last process; their mounts (private) were never visible here
  if [ -d "$RUN" ]; then
    if awk -v r="$RUN" '$2 == r || index($2, r "/") == 1 {f = 1} END {exit !f}' /proc/self/mounts; then
      die "mounts under $RUN remain: not removing it"
    fi
    rm -rf "$RUN"
  fi
  log "stopped in $(ms_since "$t0") ms (processes $(( (t1 - t0) / 1000000 )), cgroups $(( (t2 - t1) / 1000000 )), run dir $(ms_since "$t2")); $RUN removed"
}
