# shellcheck shell=bash
# The node's cgroup $CG_NAME: a child of the caller's in every hierarchy; everything the node runs lives
# below it, and `node stop` kills what is left there. Sourced by tests/cluster/node.

cg_mounts() { # "fstype mountpoint options" for each cgroup hierarchy
  awk '$3=="cgroup" || $3=="cgroup2" {print $3, $2, $4}' /proc/self/mounts
}
cg_dirs() { # the host paths of $CG_NAME below the cgroups of PID $1, one per hierarchy
  local pid=$1 fs dir opts id ctrls path c ok
  cg_mounts | while read -r fs dir opts; do
    while IFS=: read -r id ctrls path; do
      if [ "$fs" = cgroup2 ]; then [ "$id" = 0 ] && echo "$dir${path%/}/$CG_NAME"; continue; fi
      [ -n "$ctrls" ] || continue
      ok=1; for c in ${ctrls//,/ }; do [[ ",$opts," == *",$c,"* ]] || ok=; done
      [ -z "$ok" ] || echo "$dir${path%/}/$CG_NAME"
    done < "/proc/$pid/cgroup"
  done
}
cg_create() {
  local d parent
  : > "$RUN/cgroups"
  for d in $(cg_dirs $$); do
    parent=$(dirname "$d")
    [ -d "$d" ] || mkdir "$d"
    if [ -f "$parent/cpuset.cpus" ]; then    # cpuset: a new group starts without CPUs or memory nodes
      cat "$parent/cpuset.cpus" > "$d/cpuset.cpus"; cat "$parent/cpuset.mems" > "$d/cpuset.mems"
    fi
    echo "$d" >> "$RUN/cgroups"
  done
}
cg_kill_and_remove() { # SIGKILL whatever is left in the node's cgroups, then remove them bottom-up
  local dirs d p left
  dirs=$({ cat "$RUN/cgroups" 2>/dev/null || true; cg_dirs $$; } | sort -u)
  for _ in $(seq 20); do
    left=0
    for d in $dirs; do
      [ -d "$d" ] || continue
      while read -r p; do kill -KILL "$p" 2>/dev/null || true; left=1; done < <(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)
      find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [ ! -d "$d" ] || left=1
    done
    [ $left = 1 ] || return 0
    sleep 0.3
  done
  log "could not remove all of: $dirs"
  return 1
}
