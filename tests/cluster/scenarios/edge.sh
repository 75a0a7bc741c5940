#!/usr/bin/env bash
# The chart's edge on the real node: its Ingress, then its Gateway API routes, served by a real
# controller (Traefik $TRAEFIK_VERSION, built by `node build`), in front of ejabberd as three nodes
# sharing an uploads volume. Web clients (tests/clients/edge.py) reach https://chat.test and
# https://upload.chat.test on the controller's port 443, TLS checked against the test CA. Runs inside
# the node's namespaces: `edge.sh helm3|helm4`. Each step prints `ok [helm] edge-NN-name <ms>ms`.
set -euo pipefail
shopt -s inherit_errexit

HELM=${1:?usage: edge.sh helm3|helm4}
NS=xmpp-edge
# shellcheck source=in-node.sh
. "$(dirname "${BASH_SOURCE[0]}")/in-node.sh"
REL=edge
ROUTES='{websocket,bosh,upload,api}'
# The ejabberd release: three nodes sharing an uploads volume, with its dashboard
CLUSTERED=(--set replicaCount=3 --set uploads.volume.persistentVolumeClaim.claimName=edge-uploads --set metrics.dashboard.enabled=true)

# edge WHAT CHECKS [ARGS...]: tests/clients/edge.py through the controller (WHAT: Ingress or Gateway,
# for the failure's message); its output in $WORK/edge.out
edge() {
  local what=$1 only=$2; shift 2
  "$PY" "$ROOT/tests/clients/edge.py" --port "$C2S" --domain "$DOMAIN" --password "$PASSWORD" \
    --ca "$WORK/ca.crt" --only "$only" "$@" >"$WORK/edge.out"
  cat "$WORK/edge.out" >&2
  [ "$(grep -c '"ok": true' "$WORK/edge.out")" -eq "$(tr ',' '\n' <<<"$only" | wc -l)" ] ||
    fail "through the $what: $(grep '"ok": false' "$WORK/edge.out" | head -3)"
}

# ------------------------------------------------------------------ 00. the controller, the CA, the site
begin edge-00-setup
helm plugin install "$ROOT" >/dev/null
kubectl create namespace "$NS" >/dev/null
kubectl label namespace "$NS" pod-security.kubernetes.io/enforce=restricted >/dev/null
k create secret generic xmpp-secrets --from-literal=TURN_SECRET="$TURN_SECRET" \
  --from-literal=XMPP_UPLOAD_KEY="$(openssl rand -hex 24)" >/dev/null
test_ca ca
issue ca tls "$DOMAIN"
k create secret tls xmpp-tls --cert="$WORK/tls.crt" --key="$WORK/tls.key" >/dev/null
# What installing the controller brings: the Gateway API CRDs, its IngressClass and GatewayClass.
kubectl apply --server-side -f "$HX_KUBE_CACHE/gateway-api/standard.yaml" >/dev/null
kubectl wait --for=condition=Established crd/gateways.gateway.networking.k8s.io crd/httproutes.gateway.networking.k8s.io >/dev/null
kubectl apply -f - >/dev/null <<EOF
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: traefik}
spec: {controller: traefik.io/ingress-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: traefik}
spec: {controllerName: traefik.io/gateway-controller}
EOF
# The controller: a process in the node's network namespace, listening on 127.0.0.1:443 as its
# LoadBalancer would; it reaches the pods through their addresses, as in any cluster. The access log
# names the pod (address) behind each request and the cookie it came with.
traefik --entryPoints.websecure.address=127.0.0.1:443 --entryPoints.websecure.http.tls=true \
  --entryPoints.ping.address=127.0.0.1:8082 \
  --ping --ping.entryPoint=ping \
  --providers.kubernetesingress --providers.kubernetesingress.namespaces="$NS" \
  --providers.kubernetesingress.ingressClass=traefik \
  --providers.kubernetesgateway --providers.kubernetesgateway.namespaces="$NS" \
  --accesslog --accesslog.format=json --accesslog.filepath="$WORK/access.log" \
  --accesslog.fields.headers.names.Cookie=keep \
  --global.checkNewVersion=false --global.sendAnonymousUsage=false --log.level=WARN \
  >"$WORK/traefik.log" 2>&1 &
PIDS+=($!)
until_ok 30 curl -fsS http://127.0.0.1:8082/ping || { cat "$WORK/traefik.log" >&2; fail "traefik did not start"; }
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: edge-uploads}
spec: {accessModes: [ReadWriteMany], resources: {requests: {storage: 64Mi}}}
EOF
up $REL "$FIX/edge.xmpp" "${CLUSTERED[@]}" \
  --set ingress.enabled=true --set ingress.className=traefik --set "ingress.routes=$ROUTES" ||
  { cat "$WORK/up.err" >&2; fail "install"; }
register $REL ejabberd alice bob
# The clients' XMPP sessions on pod 0, whose node issues every upload slot (see edge-02)
forward "pod/$REL-xmpp-0" 5222; C2S=$FWD
pass

# ------------------------------------------------------------------ 01. through the Ingress
begin edge-01-ingress
until_ok 30 curl -fsS --cacert "$WORK/ca.crt" --resolve "$DOMAIN:443:127.0.0.1" -o /dev/null \
  "https://$DOMAIN/http-bind" || fail "the Ingress's routes never answered: $(tail -5 "$WORK/traefik.log")"
edge Ingress websocket,bosh,upload,api
# BOSH affinity, from the controller's log: every request of a session carrying its cookie went to
# the one pod that cookie names, and the sessions were spread over more than one pod.
"$PY" - "$WORK/access.log" "$WORK/edge.out" "$(k get pods -o jsonpath='{range .items[*]}{.status.podIP}={.metadata.name} {end}')" <<'PYEOF' >&2 || fail "BOSH affinity"
import json, sys
log, out, pods = sys.argv[1], sys.argv[2], dict(p.split("=") for p in sys.argv[3].split())
served = {}
for line in open(log):
    r = json.loads(line)
    if not r.get("RequestPath", "").startswith("/http-bind"):
        continue
    cookie = dict(c.strip().split("=", 1) for c in r.get("request_Cookie", "").split(";") if "=" in c).get("xmpp-route")
    if cookie:
        served.setdefault(cookie, set()).add(pods.get(r["ServiceAddr"].rsplit(":", 1)[0], r["ServiceAddr"]))
sessions = next(json.loads(l)["sessions"] for l in open(out) if '"bosh"' in l)
assert all(s["cookie"] for s in sessions), f"a session got no affinity cookie: {sessions}"
for s in sessions:
    assert len(served[s["cookie"]]) == 1, f"one session's requests went to {served[s['cookie']]}"
pods_used = set().union(*served.values())
print(f"BOSH affinity: {len(sessions)} sessions, {sum(s['requests'] for s in sessions)} requests, "
      f"each session on one pod; pods used: {sorted(pods_used)}")
assert len(pods_used) > 1, f"every session on one pod ({pods_used}): the test shows no affinity"
PYEOF
pass

# ------------------------------------------------------------------ 02. uploads taken and served by every pod
# ejabberd keeps an unsigned upload slot in the memory of the node that issued it; the DSL signs the
# uploads, so the upload service beside each pod takes a PUT whichever node issued its slot. All
# slots came from pod 0's node (alice's session); the controller's log shows which pods took the PUTs,
# and every file, on the volume all pods share, is served by each pod's ejabberd.
begin edge-02-uploads-on-every-pod
"$PY" - "$WORK/access.log" "$(k get pods -o jsonpath='{range .items[*]}{.status.podIP}={.metadata.name} {end}')" <<'PYEOF' >&2 || fail "the PUTs"
import json, sys
pods = dict(p.split("=") for p in sys.argv[2].split())
puts = [json.loads(l) for l in open(sys.argv[1])]
puts = [(pods.get(r["ServiceAddr"].rsplit(":", 1)[0]), r["DownstreamStatus"]) for r in puts
        if r.get("RequestMethod") == "PUT" and r.get("RequestPath", "").startswith("/upload/")]
took = sorted({pod for pod, status in puts if status == 201})
print(f"upload PUTs through the edge: {len(puts)}, statuses {sorted(s for _, s in puts)}; pods that took them: {took}")
assert any(p != "edge-xmpp-0" for p in took), "every PUT went to the pod that issued the slots: the test shows nothing"
PYEOF
mapfile -t urls < <("$PY" -c 'import json, sys; print("\n".join(next(json.loads(l)["urls"] for l in open(sys.argv[1]) if "\"urls\"" in l)))' "$WORK/edge.out")
[ "${#urls[@]}" -gt 0 ] || fail "no upload URL"
for i in 0 1 2; do
  forward "pod/$REL-xmpp-$i" 5280
  for url in "${urls[@]}"; do
    got=$(curl -fsS -H "Host: upload.$DOMAIN" "http://127.0.0.1:$FWD/${url#https://*/}") ||
      fail "GET $url through $REL-xmpp-$i"
    [[ $got == "helm-xmpp through the edge, file "* ]] || fail "GET $url through $REL-xmpp-$i: $got"
  done
done
pass

# ------------------------------------------------------------------ 03. through the Gateway API routes
begin edge-03-gateway
up $REL "$FIX/edge.xmpp" "${CLUSTERED[@]}" \
  --set gateway.enabled=true --set gateway.className=traefik --set "gateway.routes=$ROUTES" ||
  { cat "$WORK/up.err" >&2; fail "upgrade to the Gateway"; }
[ -z "$(k get ingress -o name)" ] || fail "the Ingress is still there"
k wait --for=jsonpath='{.status.parents[0].conditions[?(@.type=="Accepted")].status}'=True \
  "httproute/$REL-xmpp" --timeout=60s >/dev/null || fail "the HTTPRoute was not accepted: $(k get httproute -o yaml | tail -20)"
until_ok 30 curl -fsS --cacert "$WORK/ca.crt" --resolve "$DOMAIN:443:127.0.0.1" -o /dev/null \
  "https://$DOMAIN/http-bind" || fail "the Gateway's routes never answered: $(tail -5 "$WORK/traefik.log")"
# BOSH is checked through the Ingress only: Traefik's Gateway provider keeps no client on one pod, and
# ejabberd copies a new BOSH session to its other nodes asynchronously (Mnesia dirty writes), so a
# login's next request may reach a node that does not know the session yet (item-not-found).
edge Gateway websocket,upload,api --uploads 3
# For implementations that keep a client on one pod, gateway.sessionPersistence gives BOSH a rule of
# its own with a cookie: accepted by the API server with the experimental channel's HTTPRoute (which
# keeps the field) and refused nowhere.
# (Gateway API's admission policy refuses experimental CRDs over standard ones unless removed first;
# the API server takes a few seconds to stop enforcing a removed policy.)
kubectl delete validatingadmissionpolicybinding,validatingadmissionpolicy safe-upgrades.gateway.networking.k8s.io >/dev/null
until_ok 60 kubectl apply --server-side --force-conflicts -f "$HX_KUBE_CACHE/gateway-api/experimental.yaml" ||
  fail "the experimental Gateway API CRDs: $(kubectl apply --server-side --force-conflicts -f "$HX_KUBE_CACHE/gateway-api/experimental.yaml" 2>&1 | tail -2)"
kubectl wait --for=condition=Established crd/httproutes.gateway.networking.k8s.io >/dev/null
helm xmpp render "$ROOT/charts/xmpp" -n "$NS" -f "$FIX/edge.xmpp" -f "$FIX/values.yaml" "${CLUSTERED[@]}" \
  --set gateway.enabled=true --set gateway.className=traefik --set gateway.sessionPersistence=true \
  --show-only templates/gateway.yaml 2>/dev/null | kubectl apply --dry-run=server -o yaml -f - >"$WORK/persist.yaml" ||
  fail "the HTTPRoute with sessionPersistence was refused"
grep -q 'sessionName: xmpp-route' "$WORK/persist.yaml" || fail "the API server dropped sessionPersistence: $(cat "$WORK/persist.yaml")"
pass

# ------------------------------------------------------------------ 04. metrics, scraped by a real Prometheus
begin edge-04-metrics
# Prometheus (PROMETHEUS_VERSION, built by `node build`) in the node's network namespace, discovering
# the pods through the Kubernetes API by the annotations the chart puts on them (its usual
# configuration), scraping every 2 s.
cat >"$WORK/prometheus.yml" <<EOF
global: {scrape_interval: 2s, scrape_timeout: 2s}
scrape_configs:
  - job_name: pods
    kubernetes_sd_configs:
      - {role: pod, kubeconfig_file: "$KUBECONFIG", namespaces: {names: ["$NS"]}}
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape], action: keep, regex: "true"}
      - {source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path], target_label: __metrics_path__, regex: (.+)}
      - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
        regex: '([^:]+)(?::\d+)?;(\d+)'
        replacement: '\$1:\$2'
        target_label: __address__
      - {source_labels: [__meta_kubernetes_namespace], target_label: namespace}
      - {source_labels: [__meta_kubernetes_pod_name], target_label: pod}
EOF
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address=127.0.0.1:9090 >"$WORK/prometheus.log" 2>&1 &
PIDS+=($!)
until_ok 30 curl -fsS http://127.0.0.1:9090/-/ready || { cat "$WORK/prometheus.log" >&2; fail "prometheus did not start"; }
# query EXPR: the value of a PromQL expression now ("" when it has none)
query() {
  curl -fsS http://127.0.0.1:9090/api/v1/query --data-urlencode "query=$1" |
    "$PY" -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
# reaches EXPR VALUE: EXPR comes to VALUE within 60 s
reaches() { local i; for i in $(seq 60); do [ "$(query "$1")" = "$2" ] && return 0; sleep 1; done; return 1; }
# sessions SERVER CONNECTED REGISTERED: the server's connected users go from 0 to 2 while two clients
# are logged in, and back; its registered users are read (REGISTERED: the expression, or "")
sessions() {
  local connected=$2 registered=$3 hold=$WORK/hold-$1
  reaches "$connected" 0 || fail "$1: $connected is $(query "$connected"), not 0, before any login"
  "$PY" "$ROOT/tests/clients/edge.py" --port "$C2S" --domain "$DOMAIN" --password "$PASSWORD" \
    --ca "$WORK/ca.crt" --only hold --hold "$hold" >"$WORK/hold.out" 2>&1 &
  PIDS+=($!)
  reaches "$connected" 2 || { touch "$hold"; fail "$1: $connected is $(query "$connected"), not 2, with two clients in: $(cat "$WORK/hold.out")"; }
  touch "$hold"
  reaches "$connected" 0 || fail "$1: $connected is $(query "$connected") after the clients left"
  [ -z "$registered" ] || reaches "$registered" 2 || fail "$1: $registered is $(query "$registered"), not 2"
  echo "$1: $connected went 0 → 2 → 0${registered:+; $registered = 2}" >&2
}
# dashboard RELEASE: every query of the release's Grafana dashboard (the chart's ConfigMap) has data
dashboard() {
  k get configmap "$1-xmpp-dashboard" -o json | "$PY" -c "$(cat <<'PYEOF'
import json, sys, urllib.parse, urllib.request
board = json.loads(next(iter(json.load(sys.stdin)["data"].values())))
queries = [(p["title"], t["expr"]) for p in board["panels"] for t in p["targets"]]
empty = []
for title, expr in queries:
    url = "http://127.0.0.1:9090/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    answer = json.load(urllib.request.urlopen(url, timeout=10))
    if answer["status"] != "success" or not answer["data"]["result"]:
        empty.append(f"{title}: {expr}")
print(f"{board['title']}: {len(queries)} queries, {len(queries) - len(empty)} with data", file=sys.stderr)
sys.exit("no data: " + "; ".join(empty) if empty else 0)
PYEOF
)"
}
reaches 'count(up{pod=~"edge-xmpp-.*"} == 1)' 3 || fail "the three pods are not all scraped: $(query 'up')"
reaches 'max(ejabberd_cluster_nodes)' 3 || fail "ejabberd_cluster_nodes: $(query 'max(ejabberd_cluster_nodes)')"
sessions ejabberd 'sum(ejabberd_node_sessions)' 'max(ejabberd_registered_users)'
dashboard $REL || fail "the ejabberd dashboard"
# Prosody: its own metrics on the HTTP listener (the DSL's `metrics`), scraped the same way.
helm uninstall $REL -n "$NS" --wait >/dev/null
up edge-p "$FIX/edge.xmpp" --set server=prosody --set metrics.dashboard.enabled=true || { cat "$WORK/up.err" >&2; fail "install Prosody"; }
register edge-p prosody alice bob
forward pod/edge-p-xmpp-0 5222; C2S=$FWD
# GKE's health check (gke.healthCheckPath, by default the BOSH path) gets 200 from Prosody as from
# ejabberd (edge-01 waits for that through the controller)
forward pod/edge-p-xmpp-0 5280
curl -fsS -o /dev/null "http://127.0.0.1:$FWD/http-bind" || fail "Prosody does not answer GET /http-bind with 200"
reaches 'count(up{pod="edge-p-xmpp-0"} == 1)' 1 || fail "Prosody is not scraped: $(query 'up')"
sessions prosody 'sum(prosody_mod_c2s__connections{type="c2s"}) or vector(0)' 'sum(prosody_mod_helm_xmpp_accounts__accounts)'
dashboard edge-p || fail "the Prosody dashboard"
pass

begin edge-05-cleanup
helm uninstall edge-p -n "$NS" --wait >/dev/null
kubectl delete namespace "$NS" --wait=false >/dev/null
pass
