# shellcheck shell=bash
# The node's configuration files (part of `node start`): containerd, the pod network (CNI), the resolvers,
# CoreDNS, the cluster's RBAC and StorageClass, the kubelet; all under $RUN. Sourced by tests/cluster/node.

write_configs() {
  mkdir -p "$RUN/containerd" "$RUN/cni/net.d" "$RUN/cni/ipam" "$RUN/kubelet" "$RUN/pod-logs" "$RUN/log" "$RUN/pid" \
    "$RUN/coredns" "$RUN/volumes" "$RUN/manifests"
  cat > "$RUN/containerd/config.toml" <<EOF
version = 2
root = "$RUN/containerd/root"
state = "$RUN/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$RUN/containerd/containerd.sock"
[ttrpc]
  address = "$RUN/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$RUN/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:test"
  stream_server_address = "127.0.0.1"
  enable_selinux = false
  # no CAP_SYS_RESOURCE on this machine: a negative oom_score_adj (sandboxes get -998) fails in runc
  # ("can't get final child's PID from pipe: EOF"); clamp it at containerd's own
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN/cni/net.d"
EOF
  # the pod bridge lives in the node's network namespace only: no masquerading, no way out
  cat > "$RUN/cni/net.d/10-pods.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "pods",
  "plugins": [
    {"type": "bridge", "bridge": "knode0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$RUN/cni/ipam",
              "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
EOF
  : > "$RUN/pod-resolv.conf"     # the host's resolvers are not the pods' business
  # the node's own resolver (bind-mounted over /etc/resolv.conf in the node's mount namespace): cluster
  # names resolve for the tests' clients too
  printf 'search svc.cluster.local cluster.local\nnameserver %s\noptions ndots:2 timeout:1\n' "$DNS_IP" > "$RUN/node-resolv.conf"
  # CoreDNS: the cluster zone, and `example.` (RFC 2606) standing in for the public DNS of the XMPP
  # domains: the zone files a scenario writes into $RUN/coredns/zones (db.<zone>, e.g. SRV records for
  # _xmpp-server._tcp.<domain>) are served within a second. Not `test.`: Prosody resolves through
  # libunbound, which answers the RFC 6761 names (test., invalid., onion., ...) itself, with NXDOMAIN.
  # Every other name is NXDOMAIN (no forwarding); no cache (a cached "not found" would delay a new
  # pod's name by seconds).
  mkdir -p "$RUN/coredns/zones"
  cat > "$RUN/coredns/zones/db.example" <<'EOF'
$ORIGIN example.
@ 5 IN SOA ns.example. hostmaster.example. 1 60 60 60 5
@ 5 IN NS ns.example.
EOF
  cat > "$RUN/coredns/Corefile" <<EOF
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $DNS_IP
    errors
    health 127.0.0.1:8080
    ready 127.0.0.1:8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $RUN/coredns.kubeconfig helm-xmpp
        pods verified
        ttl 5
    }
    loadbalance
}
example:53 {
    bind $DNS_IP
    errors
    auto {
        directory $RUN/coredns/zones
        reload 1s
    }
}
.:53 {
    bind $DNS_IP
    template ANY ANY {
        rcode NXDOMAIN
    }
}
EOF
  cat > "$RUN/manifests/cluster.yaml" <<'EOF'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:coredns"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:helm-xmpp-provisioner"}
rules:
- apiGroups: [""]
  resources: [persistentvolumes]
  verbs: [get, list, watch, create, delete]
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, list, watch]
- apiGroups: [storage.k8s.io]
  resources: [storageclasses]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:helm-xmpp-provisioner"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:helm-xmpp-provisioner"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:helm-xmpp-provisioner"}
---
# the default StorageClass: a directory per claim under the run dir, as a `local` volume (the kubelet
# applies fsGroup to it, as to a real disk); created by `node __provisioner`, deleted with its claim
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: helm-xmpp.test/local-dir
reclaimPolicy: Delete
volumeBindingMode: Immediate
EOF
  cat > "$RUN/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $RUN/pki/kubelet-serving.crt
tlsPrivateKeyFile: $RUN/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $RUN/pki/ca.crt}
authorization: {mode: AlwaysAllow}   # reachable only inside the namespace, with a client certificate
containerRuntimeEndpoint: unix://$RUN/containerd/containerd.sock
cgroupDriver: cgroupfs
failCgroupV1: false                  # this host has cgroup v1; kubelet 1.37 refuses it by default
failSwapOn: false
podLogsDir: $RUN/pod-logs
resolvConf: $RUN/pod-resolv.conf
clusterDomain: cluster.local
clusterDNS: [$DNS_IP]
volumePluginDir: $RUN/kubelet/volume-plugins
imageGCHighThresholdPercent: 100     # never collect the imported images: they cannot be pulled again
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusReportFrequency: 10s
serializeImagePulls: false
EOF
}
