# shellcheck shell=bash
# `node __provisioner`: the StorageClass `standard`, run inside the node by its init. Sourced by tests/cluster/node.

# A tiny external provisioner: a PersistentVolumeClaim of class `standard` gets a `local` PersistentVolume
# (a fresh directory under $RUN/volumes, on this node), pre-bound to it; a Released one is deleted with its
# directory, unless its reclaim policy was set to Retain (it then waits for a new claim to bind it).
# Event-driven: kubectl watches.
PROVISIONER=helm-xmpp.test/local-dir
cmd_provisioner() {
  set +e    # a failed call must not end a watch loop: the next event (or the re-list) retries
  local k=("$BIN/kubectl" --kubeconfig="$RUN/provisioner.kubeconfig")
  provision() { # NAMESPACE NAME UID SIZE MODE
    local pv=pvc-$3 dir=$RUN/volumes/pvc-$3
    "${k[@]}" get pv "$pv" >/dev/null 2>&1 && return 0
    mkdir -p "$dir"
    "${k[@]}" create -f - <<EOF && echo "provisioned $pv for $1/$2 ($4)"
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $pv
  annotations: {pv.kubernetes.io/provisioned-by: $PROVISIONER}
spec:
  capacity: {storage: "$4"}
  accessModes: [${5:-ReadWriteOnce}]
  persistentVolumeReclaimPolicy: Delete
  storageClassName: standard
  volumeMode: Filesystem
  claimRef: {namespace: $1, name: $2, uid: $3}
  local: {path: $dir}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [$NODE_NAME]}
EOF
  }
  release() { # PV
    "${k[@]}" delete pv "$1" --ignore-not-found --wait=false >/dev/null && rm -rf "${RUN:?}/volumes/$1" && echo "deleted $1"
  }
  # one line per object (a watch prints objects, not lists); "|" separated: empty fields stay in place
  local pvc_fmt='{.metadata.namespace}|{.metadata.name}|{.metadata.uid}|{.status.phase}|{.spec.storageClassName}|{.spec.resources.requests.storage}|{.spec.accessModes[0]}|{.spec.volumeName}{"\n"}'
  local pv_fmt='{.metadata.name}|{.status.phase}|{.metadata.annotations.pv\.kubernetes\.io/provisioned-by}|{.spec.persistentVolumeReclaimPolicy}{"\n"}'
  (
    while :; do
      "${k[@]}" get pvc -A --watch -o "jsonpath=${pvc_fmt}" | while IFS='|' read -r ns name uid phase class size mode vol; do
        if [ "$phase" = Pending ] && [ "$class" = standard ] && [ -z "$vol" ]; then provision "$ns" "$name" "$uid" "$size" "$mode"; fi
      done
      sleep 1
    done
  ) &
  while :; do
    "${k[@]}" get pv --watch -o "jsonpath=${pv_fmt}" | while IFS='|' read -r pv phase by policy; do
        if [ "$phase" = Released ] && [ "$by" = "$PROVISIONER" ] && [ "$policy" = Delete ]; then release "$pv"; fi
    done
    sleep 1
  done
}
