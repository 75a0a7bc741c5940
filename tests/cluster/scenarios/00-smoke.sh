#!/usr/bin/env bash
# Smoke: the node runs the test images under the `restricted` Pod Security level with a read-only root
# filesystem, on PersistentVolumeClaims of the default StorageClass.
#   ejabberd 24.12: `ejabberdctl foreground` (the image's default command, under tini) as 9000:9000, the
#                   claim at /opt/ejabberd/database; the rest of /opt/ejabberd (cookie, logs) is the image's
#                   VOLUME, writable as with the official image; CTL_ON_CREATE/START; `ejabberdctl status`
#                   through kubectl exec; SIGTERM
#   prosody 13.0:   `prosody -F` as 101:102, writable: the claim at /var/lib/prosody only; stream features
#                   through kubectl port-forward
#   busybox:        a Service name through cluster DNS, then nc to it (what helm test pods do)
set -euo pipefail
SCENARIO=smoke
. "$(dirname "$0")/lib.sh"
NS=smoke

restricted_namespace "$NS"

k -n "$NS" apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: ejabberd}
data:
  ejabberd.yml: |
    hosts: [localhost]
    loglevel: info
    certfiles: [/opt/ejabberd/conf/server.pem]
    listen:
      - {port: 5222, ip: "::", module: ejabberd_c2s, starttls: true, starttls_required: false}
    acl:
      local: {user_regexp: ""}
    access_rules:
      local: {allow: local}
    api_permissions:
      "console commands": {from: [ejabberd_ctl], who: all, what: "*"}
    modules:
      mod_disco: {}
      mod_ping: {}
      mod_roster: {}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: prosody}
data:
  prosody.cfg.lua: |
    -- minimal: console log, no pidfile, plain c2s allowed (no certificate in this test)
    log = { info = "*console" }
    data_path = "/var/lib/prosody"
    modules_enabled = { "disco"; "roster"; "saslauth"; "ping"; "version" }
    modules_disabled = { "tls" }
    c2s_require_encryption = false
    s2s_require_encryption = false
    authentication = "internal_hashed"
    storage = "internal"
    VirtualHost "localhost"
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ejabberd-data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: prosody-data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Service
metadata: {name: ejabberd}
spec:
  selector: {app: ejabberd}
  ports: [{name: client, port: 5222}]
EOF

START_MS=$(now_ms)
k -n "$NS" apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: ejabberd, labels: {app: ejabberd}}
spec:
  securityContext:
    runAsNonRoot: true
    runAsUser: 9000
    runAsGroup: 9000
    fsGroup: 9000
    seccompProfile: {type: RuntimeDefault}
  automountServiceAccountToken: false
  containers:
  - name: ejabberd
    image: localhost/ejabberd:24.12
    imagePullPolicy: Never
    env:
    - {name: CTL_ON_CREATE, value: "register admin localhost s3cret ; ! register admin localhost s3cret"}
    - {name: CTL_ON_START, value: "registered_users localhost"}
    ports: [{name: client, containerPort: 5222}]
    readinessProbe: {tcpSocket: {port: 5222}, periodSeconds: 1}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL]}
    volumeMounts:
    - {name: config, mountPath: /opt/ejabberd/conf/ejabberd.yml, subPath: ejabberd.yml, readOnly: true}
    - {name: data, mountPath: /opt/ejabberd/database}
  volumes:
  - {name: config, configMap: {name: ejabberd}}
  - {name: data, persistentVolumeClaim: {claimName: ejabberd-data}}
---
apiVersion: v1
kind: Pod
metadata: {name: prosody, labels: {app: prosody}}
spec:
  securityContext:
    runAsNonRoot: true
    runAsUser: 101
    runAsGroup: 102
    fsGroup: 102
    seccompProfile: {type: RuntimeDefault}
  automountServiceAccountToken: false
  containers:
  - name: prosody
    image: localhost/prosody:13.0
    imagePullPolicy: Never
    command: [prosody, -F]
    ports: [{name: client, containerPort: 5222}]
    readinessProbe: {tcpSocket: {port: 5222}, periodSeconds: 1}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL]}
    volumeMounts:
    - {name: config, mountPath: /etc/prosody/prosody.cfg.lua, subPath: prosody.cfg.lua, readOnly: true}
    - {name: data, mountPath: /var/lib/prosody}
  volumes:
  - {name: config, configMap: {name: prosody}}
  - {name: data, persistentVolumeClaim: {claimName: prosody-data}}
EOF

for pvc in ejabberd-data prosody-data; do
  k -n "$NS" wait --for=jsonpath='{.status.phase}'=Bound "pvc/$pvc" --timeout=30s >/dev/null || fail "claim $pvc not Bound"
done
step "claims Bound: $(k -n "$NS" get pvc -o 'jsonpath={range .items[*]}{.metadata.name}={.spec.volumeName} ({.spec.storageClassName}) {end}')"

wait_ready "$NS" prosody 120
step "prosody Ready $(( $(now_ms) - START_MS )) ms after apply"
wait_ready "$NS" ejabberd 120
step "ejabberd Ready $(( $(now_ms) - START_MS )) ms after apply"

out=$(k -n "$NS" exec ejabberd -- ejabberdctl status) || fail "ejabberdctl status: $out"
step "ejabberdctl status: $(echo "$out" | tr '\n' ' ')"
case $out in *"is running in that node"*) ;; *) fail "ejabberd is not running" ;; esac
# CTL_ON_CREATE ran (the claim was empty): admin registered; the repeated "! register" failure was ignored
for _ in $(seq 50); do
  users=$(k -n "$NS" exec ejabberd -- ejabberdctl registered_users localhost 2>/dev/null || true)
  [ "$users" = admin ] && break; sleep 0.2
done
[ "$users" = admin ] || fail "CTL_ON_CREATE did not register admin (registered: '$users')"
k -n "$NS" exec ejabberd -- test -f /opt/ejabberd/database/schema.DAT || fail "no Mnesia schema on the claim"
k -n "$NS" exec ejabberd -- test -f /opt/ejabberd/.erlang.cookie || fail "no Erlang cookie in HOME"
! k -n "$NS" exec ejabberd -- touch /x 2>/dev/null || fail "the root filesystem is writable"
step "ejabberd: CTL_ON_CREATE registered admin; Mnesia on the claim; root read-only; $(k -n "$NS" exec ejabberd -- id)"

# features_through POD LOCAL_PORT: the pod's client stream features through a port-forward, into $out
features_through() {
  local pf
  pf=$(port_forward "$NS" "pod/$1" "$2:5222")
  out=$(xmpp_features "$2" localhost); kill "$pf" 2>/dev/null || true
  case $out in *"<stream:features"*) ;; *) fail "no stream features from $1 through port-forward: '$out'" ;; esac
}
features_through prosody 15222; step "prosody stream features through port-forward: ${out:0:200}..."
features_through ejabberd 15223; step "ejabberd stream features through port-forward"
k -n "$NS" exec prosody -- test -d /var/lib/prosody || fail "no prosody data dir"
step "prosody: $(k -n "$NS" exec prosody -- id); data dir $(k -n "$NS" exec prosody -- stat -c '%U:%G %a' /var/lib/prosody)"

# what a helm test pod does: the Service by its cluster DNS name, with busybox's nc
START_MS=$(now_ms)
IFS= read -r -d '' client <<'EOF' || true   # the manifest; the stream's opening goes in below
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  securityContext:
    runAsNonRoot: true
    runAsUser: 65534
    runAsGroup: 65534
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: client
    image: localhost/busybox:test
    imagePullPolicy: Never
    env: [{name: STREAM_OPEN, value: '@STREAM_OPEN@'}]
    command:
    - sh
    - -ec
    - |
      nslookup ejabberd.smoke.svc.cluster.local 2>&1 | grep -A1 '^Name:'
      # busybox nc quits as soon as its input ends, before the answer: keep the input open a moment
      out=$( (printf '%s' "$STREAM_OPEN"; sleep 2) | nc ejabberd 5222 || true)
      case $out in *"<stream:features"*) echo "stream features from ejabberd:5222" ;; *) echo "no features: $out"; exit 1 ;; esac
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL]}
EOF
k -n "$NS" apply -f - >/dev/null <<<"${client//@STREAM_OPEN@/$(xmpp_stream_open localhost)}"
for _ in $(seq 300); do
  phase=$(k -n "$NS" get pod client -o 'jsonpath={.status.phase}')
  case $phase in Succeeded|Failed) break ;; esac; sleep 0.2
done
[ "$phase" = Succeeded ] || { k -n "$NS" logs client || true; fail "busybox client: $phase"; }
step "busybox client ($(( $(now_ms) - START_MS )) ms): $(k -n "$NS" logs client | tr '\n' ' ')"

# SIGTERM: both servers stop well within the 30 s grace period
START_MS=$(now_ms)
k -n "$NS" delete pod ejabberd prosody --wait=true >/dev/null
took=$(( $(now_ms) - START_MS ))
step "ejabberd and prosody pods deleted in $took ms (SIGTERM honoured)"
[ "$took" -lt 15000 ] || fail "deleting the pods took $took ms: SIGTERM ignored?"

START_MS=$(now_ms)
k delete namespace "$NS" --wait=true >/dev/null
step "namespace deleted in $(( $(now_ms) - START_MS )) ms"
# the claims went with the namespace; their volumes (reclaim policy Delete) go too
for _ in $(seq 50); do [ -z "$(k get pv -o name)" ] && break; sleep 0.2; done
[ -z "$(k get pv -o name)" ] || fail "volumes left: $(k get pv -o name | paste -sd' ')"
step "volumes deleted with their claims"
