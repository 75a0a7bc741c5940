# shellcheck shell=bash
# `node __inner`: PID 1 of the node's namespaces. Mounts, network, then every daemon (containerd, etcd,
# the control plane, CoreDNS, kube-proxy, the provisioner, the kubelet); stops them all on SIGTERM.
# Sourced by tests/cluster/node.

import_images() { # into containerd's k8s.io namespace; prints what it imported
  local f pids=()
  for f in "$IMG"/*.oci.tar; do
    ctr -a "$RUN/containerd/containerd.sock" -n k8s.io images import "$f" >/dev/null & pids+=($!)
  done
  for f in "${pids[@]}"; do wait "$f"; done
}
cmd_inner() {
  local t_start pids=() names=() p
  t_start=$(date +%s%N)
  say() { echo "[init $(ms_since "$t_start") ms] $*"; }
  spawn() { # NAME CMD...: a daemon logging to $RUN/log/NAME.log
    local name=$1; shift
    "$@" > "$RUN/log/$name.log" 2>&1 &
    pids+=($!); names+=("$name"); echo $! > "$RUN/pid/$name"
  }
  # shellcheck disable=SC2329  # the TERM and INT trap
  shutdown() {
    say "shutdown"
    local i
    for (( i=${#pids[@]}-1; i>=0; i-- )); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
    for _ in $(seq 15); do     # a short grace: all state is thrown away
      local alive=0; for p in "${pids[@]}"; do ! kill -0 "$p" 2>/dev/null || alive=1; done
      [ "$alive" = 0 ] && break; sleep 0.1
    done
    exit 0   # PID 1 exits: the kernel kills everything left in the namespace, pods included
  }
  trap shutdown TERM INT
  wait_for() { # WHAT TIMEOUT_S CMD...: poll CMD until it succeeds
    local what=$1 to=$2 t; t=$(date +%s); shift 2
    until "$@" >/dev/null 2>&1; do
      (( $(date +%s) - t < to )) || { say "$what not ready after $to s"; return 1; }
      sleep 0.1
    done
  }

  # mounts, private to this namespace (-n: no utab entry, which would land in the host's /run/mount):
  # containerd hardcodes /run/containerd and /var/run/netns,
  # the kubelet /var/log/containers
  mount -n -t tmpfs -o mode=755 tmpfs /run
  mkdir -p /run/netns /run/containerd
  mount -n -t tmpfs -o mode=755 tmpfs /var/log
  mount -n --bind "$RUN/node-resolv.conf" /etc/resolv.conf
  # the cgroup hierarchies again, as seen from the new cgroup namespace (root = the node's cgroup)
  local cg l fs dir opts
  mapfile -t cg < <(awk '$2 ~ "^/sys/fs/cgroup" {print $3, $2, $4}' /proc/self/mounts)
  umount -n -R /sys/fs/cgroup
  for l in "${cg[@]}"; do
    read -r fs dir opts <<<"$l"
    opts=$(echo "$opts" | tr , '\n' | grep -vxE 'rw|ro|relatime|noatime|nosuid|nodev|noexec|seclabel' | paste -sd, - || true)
    mkdir -p "$dir"
    case $fs in
      tmpfs) mount -n -t tmpfs -o mode=755 tmpfs "$dir" ;;
      cgroup) mount -n -t cgroup -o "$opts" cgroup "$dir" ;;
      cgroup2) mount -n -t cgroup2 ${opts:+-o "$opts"} cgroup2 "$dir" ;;
    esac
  done
  # the kubelet would set these host-wide; show it the values it wants, in this mount namespace only
  local kv k v f
  mkdir -p "$RUN/sysctl"
  for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \
            kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
    k=${kv%=*}; v=${kv#*=}
    if [ "$(cat "/proc/sys/$k")" != "$v" ]; then
      f=$RUN/sysctl/${k//\//_}; echo "$v" > "$f"; mount -n --bind "$f" "/proc/sys/$k"
    fi
  done

  # network: loopback, the node IP on it, and ClusterIPs routed locally so that kube-proxy's rules
  # serve the node's own clients too; the pod bridge comes with the first pod. No route out.
  ip link set lo up
  ip addr add "$NODE_IP/32" dev lo
  ip route add "$SERVICE_CIDR" dev lo src "$NODE_IP"
  say "namespaces ready"

  spawn containerd containerd --config "$RUN/containerd/config.toml"
  wait_for containerd 20 test -S "$RUN/containerd/containerd.sock"
  ( import_images; say "images imported" ) >> "$RUN/log/images.log" 2>&1 &
  local import_pid=$!

  spawn etcd "$BIN/etcd" --name node --data-dir "$RUN/etcd" \
    --listen-client-urls "http://127.0.0.1:$EPORT" --advertise-client-urls "http://127.0.0.1:$EPORT" \
    --listen-peer-urls "http://127.0.0.1:$PPORT" --initial-advertise-peer-urls "http://127.0.0.1:$PPORT" \
    --initial-cluster "node=http://127.0.0.1:$PPORT" --unsafe-no-fsync --log-level warn
  wait_for etcd 30 curl -fsS "http://127.0.0.1:$EPORT/health"
  say "etcd ready"
  spawn kube-apiserver "$BIN/kube-apiserver" \
    --bind-address=0.0.0.0 --secure-port="$APORT" --advertise-address="$NODE_IP" \
    --etcd-servers="http://127.0.0.1:$EPORT" \
    --tls-cert-file="$RUN/pki/apiserver.crt" --tls-private-key-file="$RUN/pki/apiserver.key" \
    --client-ca-file="$RUN/pki/ca.crt" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --kubelet-client-certificate="$RUN/pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$RUN/pki/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$RUN/pki/sa.pub" --service-account-signing-key-file="$RUN/pki/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --endpoint-reconciler-type=lease --profiling=false
  wait_for kube-apiserver 120 curl -fsS --cacert "$RUN/pki/ca.crt" --cert "$RUN/pki/admin.crt" \
    --key "$RUN/pki/admin.key" "https://127.0.0.1:$APORT/readyz"
  say "kube-apiserver ready"
  "$BIN/kubectl" --kubeconfig="$RUN/kubeconfig" apply -f "$RUN/manifests/cluster.yaml" > "$RUN/log/manifests.log" 2>&1
  spawn coredns "$BIN/coredns" -conf "$RUN/coredns/Corefile"
  spawn kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$RUN/kcm.kubeconfig" \
    --authentication-kubeconfig="$RUN/kcm.kubeconfig" --authorization-kubeconfig="$RUN/kcm.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10257 --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file="$RUN/pki/sa.key" --root-ca-file="$RUN/pki/ca.crt" \
    --service-cluster-ip-range="$SERVICE_CIDR" --profiling=false
  spawn kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$RUN/scheduler.kubeconfig" \
    --authentication-kubeconfig="$RUN/scheduler.kubeconfig" --authorization-kubeconfig="$RUN/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10259 --leader-elect=false --profiling=false
  # iptables rules in this namespace only; conntrack sysctls (host-wide) left alone
  spawn kube-proxy "$BIN/kube-proxy" --kubeconfig="$RUN/kube-proxy.kubeconfig" --hostname-override="$NODE_NAME" \
    --proxy-mode=iptables --cluster-cidr="$POD_CIDR" --iptables-localhost-nodeports=false \
    --conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 \
    --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256
  spawn provisioner bash "$HERE/node" __provisioner
  spawn kubelet "$BIN/kubelet" --config="$RUN/kubelet/config.yaml" --kubeconfig="$RUN/kubelet.kubeconfig" \
    --root-dir="$RUN/kubelet/root" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --v=1
  say "all started"
  touch "$RUN/started"
  # `start` returns once the images are in and cluster DNS answers, too
  ( wait_for coredns 60 curl -fsS http://127.0.0.1:8181/ready && { say "coredns ready"; touch "$RUN/dns-ready"; } ) &
  if wait $import_pid; then touch "$RUN/images-imported"; else say "image import failed (see $RUN/log/images.log)"; fi
  local i
  while :; do
    wait -n || sleep 1     # (127 at once when no child is left)
    for i in "${!pids[@]}"; do
      kill -0 "${pids[i]}" 2>/dev/null || { say "${names[i]} exited"; unset 'pids[i]' 'names[i]'; }
    done
  done
}
