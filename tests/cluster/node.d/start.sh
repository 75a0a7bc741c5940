# shellcheck shell=bash
# `node start`, the host's side: certificates, configs and cgroups, then the node's init in namespaces of
# its own (node.d/init.sh); returns once pods can run. Sourced by tests/cluster/node.

cmd_start() {
  [ "$(id -u)" = 0 ] || die "needs root"
  if running; then
    refuse "a node is already running with run dir $RUN (init: host PID $(cat "$RUN/init.pid")): not starting" \
      "another, and leaving that one alone; '$0 stop' stops it, HELM_XMPP_KUBE_RUN=DIR starts one beside it"
  fi
  [ ! -e "$RUN" ] || cmd_stop     # what a failed or killed node left (the lock says no start or stop is under way)
  local k; for k in etcd kube-apiserver kubelet coredns pause; do [ -x "$BIN/$k" ] || die "missing $BIN/$k: run '$0 build'"; done
  ls "$IMG"/*.oci.tar >/dev/null 2>&1 || die "no images in $IMG: run '$0 images'"
  local t0; t0=$(date +%s%N)
  mkdir -p "$RUN"
  gen_certs
  write_kubeconfig admin helm-xmpp-admin; mv "$RUN/admin.kubeconfig" "$RUN/kubeconfig"
  for k in kcm scheduler kube-proxy coredns provisioner; do write_kubeconfig "$k" "$k"; done
  write_kubeconfig kubelet "system:node:$NODE_NAME"
  write_configs
  cg_create
  # PID 1 of the new namespaces is this script's __inner; setsid: no terminal signal reaches the node
  (
    exec {LOCK_FD}>&-     # the lock is this command's, not the node's
    while read -r d; do echo "$BASHPID" > "$d/cgroup.procs"; done < "$RUN/cgroups"
    exec setsid unshare --net --mount --pid --cgroup --fork --mount-proc --propagation private \
      env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$HOME" \
      HELM_XMPP_KUBE_CACHE="$CACHE" HELM_XMPP_KUBE_RUN="$RUN" HELM_XMPP_CACHE="$HX_CACHE" \
      bash "$HERE/node" __inner
  ) > "$RUN/log/init.log" 2>&1 < /dev/null &
  local u=$! h=''
  echo "$u" > "$RUN/unshare.pid"
  # the node's init: the descendant of unshare that is PID 1 in its PID namespace (NSpid: <host pid> 1)
  for _ in $(seq 100); do
    h=$(for p in $(cat "/proc/$u/task/"*/children 2>/dev/null) $u; do
          awk '/^NSpid:/ && NF==3 && $3==1 {print $2}' "/proc/$p/status" 2>/dev/null
        done | head -1) || true
    [ -z "$h" ] || break
    sleep 0.05
  done
  [ -n "$h" ] || { tail -20 "$RUN/log/init.log" >&2; die "the node's init did not start"; }
  echo "$h" > "$RUN/init.pid"   # host PIDs here; $RUN/pid/* are PIDs inside the node
  # for callers that enter the node themselves: plain KEY=VALUE lines, also a shell file to source
  cat > "$RUN/env" <<EOF
NODE_RUN=$RUN
NODE_PID=$h
NODE_NSENTER="nsenter -t $h -n -m -p"
KUBECONFIG=$RUN/kubeconfig
CONTAINERD_ADDRESS=$RUN/containerd/containerd.sock
CONTAINERD_NAMESPACE=k8s.io
NODE_PATH=$BIN:$HX_BIN
EOF
  for _ in $(seq 600); do
    [ -f "$RUN/started" ] && break
    kill -0 "$h" 2>/dev/null || { tail -30 "$RUN/log/init.log" >&2; die "the node's init exited"; }
    sleep 0.1
  done
  [ -f "$RUN/started" ] || { tail -30 "$RUN/log/init.log" >&2; die "the node did not start in 60 s"; }
  log "control plane up in $(ms_since "$t0") ms"
  local ok=
  for _ in $(seq 600); do
    if in_ns kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True; then ok=1; break; fi
    kill -0 "$h" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$ok" ] || { tail -30 "$RUN/log/init.log" >&2; die "node not Ready (logs: $RUN/log)"; }
  log "node Ready $(ms_since "$t0") ms after start"
  # pods are refused until kube-controller-manager has made the "default" ServiceAccount
  for _ in $(seq 600); do in_ns kubectl -n default get sa default >/dev/null 2>&1 && break; sleep 0.1; done
  in_ns kubectl -n default get sa default >/dev/null 2>&1 || die "no default ServiceAccount"
  for _ in $(seq 600); do [ -f "$RUN/images-imported" ] && [ -f "$RUN/dns-ready" ] && break; sleep 0.1; done
  [ -f "$RUN/images-imported" ] || die "images not imported (see $RUN/log/images.log)"
  [ -f "$RUN/dns-ready" ] || die "CoreDNS not ready (see $RUN/log/coredns.log)"
  log "pods admissible, images imported, DNS ready $(ms_since "$t0") ms after start; run dir $RUN, env file $RUN/env"
  echo "$RUN"
}
