#!/usr/bin/env bash
# The chart's scenarios on the real node, with one Helm: `chart.sh helm3|helm4`. Runs inside the
# node's namespaces (`node exec`), so kubectl, helm, port-forward and the clients reach the cluster
# and nothing else. The scenarios run in the order of their numbers, each on what the ones before it
# left; each prints `ok [helm] NN-name <ms>ms` or fails the script with a reason.
set -euo pipefail
shopt -s inherit_errexit

HELM=${1:?usage: chart.sh helm3|helm4}
# shellcheck source=in-node.sh
. "$(dirname "${BASH_SOURCE[0]}")/in-node.sh"

# ------------------------------------------------------------------ 00. plugins, namespace, secrets
begin 00-setup
helm plugin install "$ROOT" >/dev/null
[ "$HELM" = helm4 ] && helm plugin install "$ROOT/plugin/postrender" >/dev/null
kubectl create namespace "$NS" >/dev/null
kubectl label namespace "$NS" pod-security.kubernetes.io/enforce=restricted >/dev/null
k create secret generic xmpp-secrets --from-literal=XMPP_DB_PASSWORD="$DB_SECRET" \
  --from-literal=TURN_SECRET="$TURN_SECRET" >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$DOMAIN" \
  -addext "subjectAltName=DNS:$DOMAIN,DNS:*.$DOMAIN" -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
k create secret tls xmpp-tls --cert="$WORK/tls.crt" --key="$WORK/tls.key" >/dev/null
pass

# ------------------------------------------------------------------ 00. the chart as a package in an OCI registry
begin 00-chart-in-an-oci-registry
# A real registry (CNCF distribution) on the node's loopback; `helm push`, then 01 installs from it.
cat >"$WORK/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $WORK/registry}}
http: {addr: 127.0.0.1:5000}
EOF
registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
PIDS+=($!)
until_ok 30 curl -fsS http://127.0.0.1:5000/v2/ || { cat "$WORK/registry.log" >&2; fail "the registry did not start"; }
helm package "$ROOT/charts/xmpp" -d "$WORK" >/dev/null
VERSION=$(sed -n 's/^version: //p' "$ROOT/charts/xmpp/Chart.yaml")
helm push "$WORK/xmpp-$VERSION.tgz" oci://127.0.0.1:5000/charts --plain-http >"$WORK/push.out" 2>&1 ||
  { cat "$WORK/push.out" >&2; fail "helm push"; }
CHART=oci://127.0.0.1:5000/charts/xmpp
helm show chart "$CHART" --version "$VERSION" --plain-http 2>/dev/null | grep -qx "version: $VERSION" ||
  fail "the pushed chart is not served back"
curl -fsS http://127.0.0.1:5000/v2/charts/xmpp/tags/list | grep -q "\"$VERSION\"" || fail "the registry lists no tag $VERSION"
pass

# ------------------------------------------------------------------ 01. ejabberd, two clustered nodes, from the registry; a replaced pod rejoins
begin 01-ejabberd-cluster
REL=xe STS=xe-xmpp
start=$(date +%s%N)
helm xmpp install "$REL" "$CHART" --version "$VERSION" --plain-http -n "$NS" -f "$FIX/site.xmpp" \
  -f "$FIX/values.yaml" --set replicaCount=2 --wait --timeout 5m >/dev/null 2>"$WORK/install.err" || { cat "$WORK/install.err" >&2; fail "install"; }
echo "ejabberd: install to both pods Ready $(( ($(date +%s%N) - start) / 1000000 ))ms" >&2
# A new node joins pod 0 a few seconds after it starts (CTL_ON_CREATE); it is Ready only once joined.
for pod in $STS-0 $STS-1; do
  joined "$pod" || fail "$pod is Ready but not in the cluster: list_cluster: $(ctl "$pod" list_cluster)"
done
echo "ejabberd: install to one cluster of two $(( ($(date +%s%N) - start) / 1000000 ))ms" >&2
for user in admin alice bob carol; do ctl $STS-0 register $user $DOMAIN "$PASSWORD" >/dev/null; done
ctl $STS-1 check_account alice $DOMAIN || fail "an account made on pod 0 is unknown on pod 1"
forward pod/$STS-1 5222
clients "$FWD" login-starttls,message
# A deleted pod comes back with its claim, rejoins, and still knows the account.
uid=$(k get pod $STS-1 -o jsonpath='{.metadata.uid}')
replaced() { [ "$(k get pod $STS-1 -o jsonpath='{.metadata.uid}')" != "$uid" ]; }
k delete pod $STS-1 --wait=true >/dev/null
until_ok 120 replaced || fail "pod 1 was not replaced"
ready $STS-1
joined $STS-1 || fail "the new pod is Ready before it rejoined: $(ctl $STS-1 list_cluster)"
ctl $STS-1 check_account alice $DOMAIN || fail "the replaced pod lost the account"
[ "$(k get pvc data-$STS-1 -o jsonpath='{.status.phase}')" = Bound ] || fail "no bound claim for pod 1"
forward pod/$STS-1 5222
clients "$FWD" login-starttls
pass

# ------------------------------------------------------------------ 02. helm test
begin 02-helm-test
# A passing test pod is removed (hook-succeeded), so no --logs here: Helm 3 would fail to fetch them.
helm test "$REL" -n "$NS" >"$WORK/test.out" 2>&1 || { cat "$WORK/test.out" >&2; fail "helm test"; }
pass

# ------------------------------------------------------------------ 02. helm xmpp diff against what the release runs
begin 02-diff-against-the-release
# The DSL the release was installed from: nothing changes (exit 0); a changed archive default is said
# in each server's terms (exit 1). The namespace reaches `helm get values` through Helm's own flag.
helm xmpp diff --release "$REL" -n "$NS" "$FIX/site.xmpp" >"$WORK/diff.out" 2>&1 ||
  fail "the release's own DSL differs from it: $(cat "$WORK/diff.out")"
sed 's/archive { default always }/archive { default roster }/' "$FIX/site.xmpp" >"$WORK/roster.xmpp"
rc=0; helm xmpp diff --release "$REL" -n "$NS" "$WORK/roster.xmpp" >"$WORK/diff.out" 2>"$WORK/diff.err" || rc=$?
[ "$rc" = 1 ] || fail "diff exited $rc: $(cat "$WORK/diff.out" "$WORK/diff.err")"
grep -qx 'ejabberd: mod_mam.default: always → roster' "$WORK/diff.out" ||
  fail "the change is not said in ejabberd's terms: $(cat "$WORK/diff.out")"
rc=0; helm xmpp diff --release no-such-release -n "$NS" "$FIX/site.xmpp" >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "diff against a missing release exited $rc, not 2"
pass

# ------------------------------------------------------------------ 03. the Hurl suite and a client through port-forward
begin 03-hurl-and-client
forward svc/$STS 5280
http=$FWD
"$HURL" --test --variable "api=http://127.0.0.1:$http/api" --variable "host=$DOMAIN" \
  --variable "muc=conference.$DOMAIN" "$ROOT"/tests/hurl/*.hurl >"$WORK/hurl.out" 2>&1 ||
  { cat "$WORK/hurl.out" >&2; fail "hurl"; }
forward svc/$STS 5222
clients "$FWD" login-starttls,message,groupchat --muc "conference.$DOMAIN"
pass

# ------------------------------------------------------------------ 04. the PodDisruptionBudget refuses a second eviction
begin 04-disruption-budget
evict() {
  k create --raw "/api/v1/namespaces/$NS/pods/$1/eviction" -f - <<EOF
{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"$1","namespace":"$NS"}}
EOF
}
evict $STS-0 >/dev/null || fail "the first eviction was refused"
if out=$(evict $STS-1 2>&1); then fail "a second eviction beyond maxUnavailable 1 was allowed"; fi
grep -q "disruption budget" <<<"$out" || fail "refused for another reason: $out"
rolled_out $STS
until_ok 60 joined $STS-0 || fail "pod 0 did not rejoin after its eviction"
pass

# ------------------------------------------------------------------ 05. upgrade with a changed DSL rolls the pods
begin 05-upgrade
before_data=$(config_data $STS-config)
before_rev=$(sts_revision $STS)
helm xmpp upgrade "$REL" "$ROOT/charts/xmpp" -n "$NS" -f "$FIX/site-upgraded.xmpp" -f "$FIX/values.yaml" \
  --set replicaCount=2 --wait --timeout 5m >/dev/null 2>"$WORK/upgrade.err" || { cat "$WORK/upgrade.err" >&2; fail "upgrade"; }
rolled_out $STS
[ "$(config_data $STS-config)" != "$before_data" ] || fail "the ConfigMap did not change"
grep -q mod_http_upload <<<"$(config_data $STS-config)" || fail "the new service is not in the ConfigMap"
[ "$(sts_revision $STS)" != "$before_rev" ] || fail "the pods did not roll"
for pod in $STS-0 $STS-1; do
  [ "$(k get pod "$pod" -o jsonpath='{.metadata.labels.controller-revision-hash}')" = "$(sts_revision $STS)" ] ||
    fail "$pod runs the old revision"
done
forward svc/$STS 5222
clients "$FWD" disco --expect "upload.$DOMAIN"
pass

# ------------------------------------------------------------------ 06. rollback to revision 1
begin 06-rollback
helm rollback "$REL" 1 -n "$NS" --wait --timeout 5m >/dev/null
rolled_out $STS
[ "$(config_data $STS-config)" = "$before_data" ] || fail "the ConfigMap differs from revision 1's"
[ "$(sts_revision $STS)" = "$before_rev" ] || fail "the pods are not back on revision 1's template"
history=$(helm history "$REL" -n "$NS")
echo "$history" >&2
{ [ "$(tail -n +2 <<<"$history" | wc -l)" = 3 ] && grep -q "Rollback to 1" <<<"$history"; } || fail "history: $history"
forward svc/$STS 5222
if run_clients "$FWD" disco --expect "upload.$DOMAIN" 2>/dev/null; then fail "upload still answers"; fi
pass

# ------------------------------------------------------------------ 07. a compile error reaches nothing
begin 07-compile-error-changes-nothing
revisions=$(helm history "$REL" -n "$NS" | wc -l)
data=$(config_data $STS-config)
if helm xmpp upgrade "$REL" "$ROOT/charts/xmpp" -n "$NS" -f "$FIX/broken.xmpp" -f "$FIX/values.yaml" 2>"$WORK/broken.err"; then
  fail "a broken DSL was upgraded"
fi
grep -q "E012" "$WORK/broken.err" || fail "no diagnostic: $(cat "$WORK/broken.err")"
[ "$(helm history "$REL" -n "$NS" | wc -l)" = "$revisions" ] || fail "a release revision was made"
[ "$(config_data $STS-config)" = "$data" ] || fail "the ConfigMap changed"
pass

# ------------------------------------------------------------------ 08. Prosody, and a helm test that can fail
begin 08-prosody
start=$(date +%s%N)
helm xmpp install xp "$ROOT/charts/xmpp" -n "$NS" -f "$FIX/site.xmpp" -f "$FIX/values.yaml" --set server=prosody \
  --wait --timeout 5m >/dev/null 2>"$WORK/prosody.err" || { cat "$WORK/prosody.err" >&2; fail "install"; }
echo "prosody: install to Ready $(( ($(date +%s%N) - start) / 1000000 ))ms" >&2
for user in alice bob carol; do
  k exec xp-xmpp-0 -- prosodyctl register $user $DOMAIN "$PASSWORD" >/dev/null || fail "prosodyctl register $user"
done
forward svc/xp-xmpp 5222
clients "$FWD" login-starttls,message
helm test xp -n "$NS" >"$WORK/ptest.out" 2>&1 || { cat "$WORK/ptest.out" >&2; fail "helm test (prosody)"; }
# The test pod really checks: with the server scaled away it fails, and says what it saw.
k scale statefulset xp-xmpp --replicas=0 >/dev/null
k wait --for=delete pod/xp-xmpp-0 --timeout=120s >/dev/null
if helm test xp -n "$NS" --logs >"$WORK/ptest.out" 2>&1; then fail "helm test passed with no server"; fi
grep -q "FAIL: port 5222" "$WORK/ptest.out" || fail "the failed test does not say why: $(cat "$WORK/ptest.out")"
k delete pod xp-xmpp-test >/dev/null
k scale statefulset xp-xmpp --replicas=1 >/dev/null
rolled_out xp-xmpp
pass

# ------------------------------------------------------------------ 09. no targets line: the default images run it
begin 09-default-releases
# The compiler's default releases are the chart's default image tags (a cargo test holds them equal):
# without a `targets` line and without a tag, the pod runs the default image and serves a client.
helm xmpp install xd "$ROOT/charts/xmpp" -n "$NS" -f "$FIX/no-targets.xmpp" -f "$FIX/values.yaml" \
  --wait --timeout 5m >/dev/null 2>"$WORK/default.err" ||
  { cat "$WORK/default.err" >&2; fail "install"; }
image=$(k get pod xd-xmpp-0 -o jsonpath='{.spec.containers[0].image}')
tag=$(helm get values xd -n "$NS" --all -o json | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["image"]["ejabberd"]["tag"])')
[ -n "$tag" ] && [ "$image" = "localhost/ejabberd:$tag" ] || fail "not the chart's default tag ($tag): $image"
ctl xd-xmpp-0 register alice $DOMAIN "$PASSWORD" >/dev/null
ctl xd-xmpp-0 register bob $DOMAIN "$PASSWORD" >/dev/null
forward svc/xd-xmpp 5222
clients "$FWD" login-starttls,message
helm uninstall xd -n "$NS" --wait >/dev/null
k delete pvc data-xd-xmpp-0 --wait=true >/dev/null
pass

# ------------------------------------------------------------------ 10. the post-renderer on a chart not ours
begin 10-post-renderer-foreign-chart
renderer=$ROOT/plugin/postrender/postrender.sh
[ "$HELM" = helm4 ] && renderer=xmpp-postrender
helm install foreign "$ROOT/tests/chart/foreign" -n "$NS" --post-renderer "$renderer" \
  --post-renderer-args "--dsl=$FIX/foreign.xmpp" --wait --timeout 3m >/dev/null
"$HELM_XMPP_BIN" compile "$FIX/foreign.xmpp" -o "$WORK/foreign" >/dev/null 2>&1
k get configmap xmpp-config -o jsonpath='{.data.ejabberd\.yml}' >"$WORK/foreign/live.yml"
cmp "$WORK/foreign/ejabberd.yml" "$WORK/foreign/live.yml" || fail "the ConfigMap is not the compiled config"
pod=$(k get pod -l app=foreign-ejabberd -o jsonpath='{.items[0].metadata.name}')
k exec "$pod" -- ejabberdctl registered_vhosts | grep -qx foreign.test || fail "the pod does not serve the DSL's domain"
pass

# ------------------------------------------------------------------ 11. every values file, validated by the API server
begin 11-values-server-dry-run
kubectl apply -f "$FIX/crds.yaml" >/dev/null   # cert-manager's Certificate, ServiceMonitor, GKE's objects
kubectl wait --for=condition=Established -f "$FIX/crds.yaml" >/dev/null
for values in "" values-dev.yaml values-prod.yaml "values-prod.yaml values-gke.yaml"; do
  args=()
  for v in $values; do args+=(-f "$ROOT/charts/xmpp/$v"); done
  helm xmpp render "$ROOT/charts/xmpp" -n "$NS" -f "$FIX/site.xmpp" "${args[@]}" \
    --set secrets.existingSecret=xmpp-secrets 2>/dev/null >"$WORK/render.yaml" || fail "render ${values:-defaults}"
  kubectl apply --dry-run=server -n "$NS" -f "$WORK/render.yaml" >"$WORK/apply.out" 2>&1 ||
    { cat "$WORK/apply.out" >&2; fail "the API server refused ${values:-defaults}"; }
done
pass

# ------------------------------------------------------------------ 12. secrets stay secret
begin 12-secrets-stay-secret
for rel in "$REL" xp; do
  helm get manifest "$rel" -n "$NS" >"$WORK/manifest-$rel.yaml"
done
k get configmap -o yaml >"$WORK/configmaps.yaml"
: >"$WORK/pod-logs"
for pod in $(k get pods -o jsonpath='{.items[*].metadata.name}'); do
  k logs "$pod" --all-containers --prefix >>"$WORK/pod-logs" 2>&1 || true
  k logs "$pod" --all-containers --prefix --previous >>"$WORK/pod-logs" 2>/dev/null || true
done
for secret in "$DB_SECRET" "$TURN_SECRET"; do
  if grep -l -- "$secret" "$WORK"/manifest-*.yaml "$WORK/configmaps.yaml" "$WORK/pod-logs"; then
    fail "a secret value leaked into the files above"
  fi
done
# The check can fail: the pods really have the values (in their environment only).
k exec $STS-0 -- printenv TURN_SECRET | grep -qx -- "$TURN_SECRET" || fail "the secret did not reach the pod"
[ -s "$WORK/pod-logs" ] || fail "no pod logs to search"
pass

# ------------------------------------------------------------------ 13. a renewed certificate, served without a restart
# The TLS Secret is replaced in place (as cert-manager renews it); both servers serve the new
# certificate within the stated bound (2 minutes: the kubelet's update, then the reload), no pod
# restarts, and a client connected before stays connected on the same stream.
begin 13-certificate-rotation
serial() { openssl s_client -starttls xmpp -xmpphost "$DOMAIN" -connect "127.0.0.1:$1" </dev/null 2>/dev/null |
  openssl x509 -noout -serial 2>/dev/null; }
forward pod/$STS-0 5222; fe=$FWD
forward pod/xp-xmpp-0 5222; fp=$FWD
old_e=$(serial "$fe"); old_p=$(serial "$fp")
[ -n "$old_e" ] && [ "$old_e" = "$old_p" ] || fail "no certificate served before: '$old_e' '$old_p'"
pods_before=$(k get pod $STS-0 $STS-1 xp-xmpp-0 -o jsonpath='{range .items[*]}{.metadata.uid}:{.status.containerStatuses[*].restartCount} {end}')
for port in "$fe" "$fp"; do
  "$PY" "$ROOT/tests/clients/scenarios.py" --port "$port" --domain "$DOMAIN" --password "$PASSWORD" \
    --only stay-connected --hold "$WORK/rotated" >"$WORK/stay-$port.out" 2>&1 &
  PIDS+=($!)
done
sleep 3
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$DOMAIN" \
  -addext "subjectAltName=DNS:$DOMAIN,DNS:*.$DOMAIN" -keyout "$WORK/tls2.key" -out "$WORK/tls2.crt" 2>/dev/null
new=$(openssl x509 -noout -serial -in "$WORK/tls2.crt")
start=$(date +%s)
k create secret tls xmpp-tls --cert="$WORK/tls2.crt" --key="$WORK/tls2.key" --dry-run=client -o yaml | k apply -f - >/dev/null
served() { [ "$(serial "$1")" = "$new" ]; }
until_ok 120 served "$fe" || fail "ejabberd still serves $(serial "$fe") two minutes after the Secret changed"
took_e=$(( $(date +%s) - start ))
until_ok 120 served "$fp" || fail "prosody still serves $(serial "$fp") two minutes after the Secret changed"
took_p=$(( $(date +%s) - start ))
touch "$WORK/rotated"
wait "${PIDS[-1]}" "${PIDS[-2]}" || true
for port in "$fe" "$fp"; do
  cat "$WORK/stay-$port.out" >&2
  grep -q '"ok": true' "$WORK/stay-$port.out" || fail "the client connected before the renewal was dropped"
done
pods_after=$(k get pod $STS-0 $STS-1 xp-xmpp-0 -o jsonpath='{range .items[*]}{.metadata.uid}:{.status.containerStatuses[*].restartCount} {end}')
[ "$pods_before" = "$pods_after" ] || fail "pods were replaced or restarted: $pods_before -> $pods_after"
echo "tls: the new certificate served after ${took_e}s (ejabberd) and ${took_p}s (prosody); no restart" >&2
pass

# ------------------------------------------------------------------ 14. GitOps: plain Helm, no plugin, no drift
# What a controller runs: `helm template` with the committed compiled values (`helm xmpp values`) and
# the cookie's Secret named; twice the same bytes, and applied twice with nothing to change.
begin 14-gitops-no-drift
"$HELM_XMPP_BIN" values "$FIX/site.xmpp" -o "$WORK/compiled-values.yaml" >/dev/null 2>&1 || fail "values"
"$HELM_XMPP_BIN" values "$FIX/site.xmpp" -o "$WORK/compiled-values.yaml" --check 2>/dev/null || fail "values --check"
k create secret generic gx-cookie --from-literal=erlang-cookie="cookie-$RANDOM$RANDOM$RANDOM" >/dev/null
gitops() {
  helm template gx "$ROOT/charts/xmpp" -n "$NS" --skip-tests -f "$WORK/compiled-values.yaml" -f "$FIX/values.yaml" \
    --set cluster.cookieSecret=gx-cookie
}
gitops >"$WORK/gitops-1.yaml"
gitops >"$WORK/gitops-2.yaml"
cmp -s "$WORK/gitops-1.yaml" "$WORK/gitops-2.yaml" || fail "two helm template runs differ"
grep -q 'kind: StatefulSet' "$WORK/gitops-1.yaml" || fail "nothing rendered"
kubectl apply --server-side --field-manager=gitops -n "$NS" -f "$WORK/gitops-1.yaml" >/dev/null || fail "first apply"
kubectl apply --server-side --field-manager=gitops -n "$NS" -f "$WORK/gitops-2.yaml" >"$WORK/apply-2.out" || fail "second apply"
kubectl diff --server-side --field-manager=gitops -n "$NS" -f "$WORK/gitops-2.yaml" >"$WORK/drift.diff" ||
  { cat "$WORK/drift.diff" >&2; fail "the second render differs from what is applied"; }
echo "gitops: $(wc -l <"$WORK/gitops-1.yaml") lines rendered twice identically; $(wc -l <"$WORK/apply-2.out") objects applied again, no drift" >&2
kubectl delete -n "$NS" -f "$WORK/gitops-1.yaml" --wait >/dev/null
k delete secret gx-cookie >/dev/null
k delete pvc -l app.kubernetes.io/instance=gx --wait=false >/dev/null 2>&1 || true
k delete pvc data-gx-xmpp-0 --ignore-not-found --wait=false >/dev/null
pass

# The three long data steps (15–17, two thirds of the time) run with one Helm each: their Helm part is
# `helm upgrade`, which 05 and 06 prove with both. with_helm HELM STEP: true when this run's Helm is
# HELM; otherwise the step is reported skipped.
with_helm() { [ "$HELM" = "$1" ] && return 0; echo "skip [$HELM] $2 (run with $1)"; return 1; }

# ------------------------------------------------------------------ 15. rollouts and scaling lose no acknowledged message
# alice sends bob a numbered message every 100 ms (stream management, an ack asked for each), alice
# first on pod 0 and bob on pod 2, both reconnecting through the Service whenever their stream ends,
# while (a) a config change rolls 3 pods, (b) a scale-in to 2, (c) a scale-out to 3, (d) the HPA
# scales in to 2. Each time every message the server acknowledged reaches bob, live or from offline
# storage, or (an ejabberd race, in traffic.py) from his archive when he catches up; a removed node
# leaves the cluster, a new one joins it before it is Ready.
if with_helm helm4 15-rollout-and-scaling-keep-messages; then
begin 15-rollout-and-scaling-keep-messages
xe_upgrade() { up "$REL" "$@" || { cat "$WORK/up.err" >&2; fail "helm xmpp upgrade $*"; }; } # DSL, then --set flags
# traffic WHAT CMD...: the clients above while CMD runs; fails when an acknowledged message is lost
traffic() {
  local what=$1 out=$WORK/traffic.$RANDOM svc p0 p2 tp; shift
  svc=$(k get svc $STS -o jsonpath='{.spec.clusterIP}')
  # bob on the last pod (it may be the one removed)
  p0=$(k get pod $STS-0 -o jsonpath='{.status.podIP}')
  p2=$(k get pod $STS-2 -o jsonpath='{.status.podIP}' 2>/dev/null || k get pod $STS-1 -o jsonpath='{.status.podIP}')
  rm -f "$WORK/stop-traffic"
  "$PY" "$ROOT/tests/clients/traffic.py" --domain "$DOMAIN" --password "$PASSWORD" --sender "$p0:5222" \
    --recipient "$p2:5222" --service "$svc:5222" --stop "$WORK/stop-traffic" >"$out" 2>&1 &
  tp=$!; PIDS+=("$tp")
  sleep 3
  local t0; t0=$(date +%s%N)
  "$@" || { touch "$WORK/stop-traffic"; fail "$what"; }
  echo "$what: done in $(( ($(date +%s%N) - t0) / 1000000 ))ms" >&2
  sleep 3
  touch "$WORK/stop-traffic"
  wait "$tp" || true
  echo "$what: $(cat "$out")" >&2
  grep -q '"ok": true' "$out" || fail "$what: an acknowledged message was lost: $(cat "$out")"
}
xe_upgrade "$FIX/site.xmpp" --set replicaCount=3
three="$STS-0 $STS-1 $STS-2 "
in_cluster "$three" $STS-0 $STS-1 $STS-2 || fail "scaled out to 3: $(members $STS-2)"
ctl $STS-2 check_account alice $DOMAIN || fail "the new node does not know the accounts"
before_rev=$(sts_revision $STS)
traffic "rollout of 3 pods" xe_upgrade "$FIX/site-upgraded.xmpp" --set replicaCount=3
[ "$(sts_revision $STS)" != "$before_rev" ] || fail "the config change did not roll the pods"
in_cluster "$three" $STS-0 $STS-1 $STS-2 || fail "after the rollout: $(members $STS-0)"
scaled_in() { ! k get pod $STS-2 >/dev/null 2>&1 && in_cluster "$STS-0 $STS-1 " $STS-0 $STS-1; }
UPGRADED=$FIX/site-upgraded.xmpp WITH=()   # the DSL and flags the scale-in keeps
scale_in() { xe_upgrade "$UPGRADED" "${WITH[@]}" --set replicaCount=2 && until_ok 60 scaled_in; }
traffic "scale-in 3 -> 2" scale_in
[ "$(k get pvc data-$STS-2 -o jsonpath='{.status.phase}')" = Bound ] || fail "the removed pod's claim is gone"
scale_out() { xe_upgrade "$FIX/site-upgraded.xmpp" --set replicaCount=3 && in_cluster "$three" $STS-0 $STS-1 $STS-2; }
traffic "scale-out 2 -> 3" scale_out
ctl $STS-2 check_account bob $DOMAIN || fail "the rejoined node does not know the accounts"
hpa_in() {
  xe_upgrade "$FIX/site-upgraded.xmpp" --set autoscaling.enabled=true,autoscaling.minReplicas=2,autoscaling.maxReplicas=2 &&
    until_ok 90 scaled_in
}
traffic "HPA scale-in 3 -> 2" hpa_in
xe_upgrade "$FIX/site.xmpp" --set replicaCount=2
in_cluster "$STS-0 $STS-1 " $STS-0 $STS-1 || fail "back to two: $(members $STS-0)"
# The same on the bundled PostgreSQL (offline storage and archives in SQL): a rollout, a scale-in.
REL0=$REL STS0=$STS REL=xs STS=xs-xmpp WITH=(--set postgresql.enabled=true)
site xs "$FIX/site.xmpp" pg
xe_upgrade "$SITE" "${WITH[@]}" --set replicaCount=3
three="$STS-0 $STS-1 $STS-2 "
in_cluster "$three" $STS-0 $STS-1 $STS-2 || fail "PostgreSQL: three nodes: $(members $STS-2)"
register xs ejabberd alice bob
site xs "$FIX/site-upgraded.xmpp" pg; UPGRADED=$SITE
traffic "PostgreSQL: rollout of 3 pods" xe_upgrade "$UPGRADED" "${WITH[@]}" --set replicaCount=3
in_cluster "$three" $STS-0 $STS-1 $STS-2 || fail "PostgreSQL: after the rollout: $(members $STS-0)"
traffic "PostgreSQL: scale-in 3 -> 2" scale_in
helm uninstall xs -n "$NS" --wait >/dev/null
for pvc in data-xs-xmpp-0 data-xs-xmpp-1 data-xs-xmpp-2 data-xs-xmpp-postgresql-0; do k delete pvc "$pvc" --wait=false >/dev/null; done
REL=$REL0 STS=$STS0
pass
fi

# ------------------------------------------------------------------ 16. backup, lose everything, restore elsewhere
# Accounts, a roster entry, an archived message, a persistent room and an uploaded file, on ejabberd
# and on Prosody, each with internal storage (Mnesia, files) and with the bundled PostgreSQL (ejabberd
# on Mnesia: two nodes sharing an uploads volume, as the chart asks of a cluster with uploads); the
# chart's backup CronJob run once; the releases uninstalled and all their claims deleted; the backups'
# volume kept (reclaim policy Retain) and bound in another namespace, where releases of other names
# restore from it; the client finds everything.
if with_helm helm3 16-backup-and-restore; then
begin 16-backup-and-restore
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: xmpp-backups}
spec: {accessModes: [ReadWriteOnce], storageClassName: standard, resources: {requests: {storage: 64Mi}}}
EOF
# uploads_claim NAME: a ReadWriteMany claim for a cluster's uploads
uploads_claim() {
  k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: $1}
spec: {accessModes: [ReadWriteMany], storageClassName: standard, resources: {requests: {storage: 64Mi}}}
EOF
}
# cluster_args RELEASE SERVER STORAGE: two nodes and a shared uploads volume for ejabberd on Mnesia
cluster_args() {
  CLUSTER=(--set replicaCount=1)
  [ "$2:$3" = ejabberd:internal ] || return 0
  uploads_claim "$1-uploads"
  CLUSTER=(--set replicaCount=2 --set "uploads.volume.persistentVolumeClaim.claimName=$1-uploads")
}
backups=(--set backup.enabled=true --set backup.volume.persistentVolumeClaim.claimName=xmpp-backups --set backup.keep=1)
backup_now() { # RELEASE RUN: the CronJob's job, run now; its log in $log
  local start; start=$(date +%s%N)
  k create job "$1-backup-$2" --from="cronjob/$1-xmpp-backup" >/dev/null
  k wait --for=condition=Complete "job/$1-backup-$2" --timeout=120s >/dev/null ||
    { k logs "job/$1-backup-$2" --all-containers >&2 || true; fail "$1: the backup job did not complete"; }
  log=$(k logs "job/$1-backup-$2" -c backup)
  echo "$1: backup in $(( ($(date +%s%N) - start) / 1000000 ))ms: $log" >&2
}
declare -A made
releases=(xb:ejabberd:internal xq:prosody:internal xc:ejabberd:pg xr:prosody:pg)
for rel in "${releases[@]}"; do
  IFS=: read -r name server storage <<<"$rel"
  site "$name" "$FIX/site-upgraded.xmpp" "$storage"
  cluster_args "$name" "$server" "$storage"
  helm xmpp install "$name" "$ROOT/charts/xmpp" -n "$NS" -f "$SITE" -f "$FIX/values.yaml" --set server="$server" "${CLUSTER[@]}" \
    --set postgresql.enabled=$([ "$storage" = pg ] && echo true || echo false) "${backups[@]}" --wait --timeout 5m \
    >/dev/null 2>"$WORK/$name.err" || { cat "$WORK/$name.err" >&2; fail "install $name"; }
  register "$name" "$server" alice bob
  backup_now "$name" 1
  first=$(sed -n 's|^backup: /backup/\([^,]*\),.*|\1|p' <<<"$log" | head -1)
  userdata write "$name" "$name" || fail "$name: writing the user data"
  if [ "${#CLUSTER[@]}" -gt 2 ]; then # every node sees the uploaded file, whichever took it
    for pod in "$name-xmpp-0" "$name-xmpp-1"; do
      k exec "$pod" -c ejabberd -- find /opt/ejabberd/run/upload -name kept.txt | grep -q . ||
        fail "$name: $pod does not see the uploaded file"
    done
  fi
  if [ "$storage" = pg ]; then
    [ "$(sql "$name" "SELECT count(*) FROM ${archive[$server]}")" -gt 0 ] || fail "$name: the archive is not in PostgreSQL"
  fi
  sleep 1   # another second, another folder
  backup_now "$name" 2
  made[$name]=$(sed -n 's|^backup: /backup/\([^,]*\),.*|\1|p' <<<"$log" | head -1)
  [ -n "$first" ] && [ -n "${made[$name]}" ] || fail "$name: the backup job did not say where: $log"
  grep -qx "backup: removed /backup/$first" <<<"$log" || fail "$name: keep=1 kept the older backup $first: $log"
  if [ "$storage" = pg ]; then grep -q "postgresql.dump" <<<"$log" || fail "$name: no database dump: $log"; fi
done
# Everything is lost but the backups' volume.
pv=$(k get pvc xmpp-backups -o jsonpath='{.spec.volumeName}')
kubectl patch pv "$pv" -p '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}' >/dev/null
for rel in "${releases[@]}"; do
  IFS=: read -r name server storage <<<"$rel"
  helm uninstall "$name" -n "$NS" --wait >/dev/null
  k delete job "$name-backup-1" "$name-backup-2" --ignore-not-found --wait=true >/dev/null
  k delete pvc "data-$name-xmpp-0" --wait=true >/dev/null
  [ "$storage" != pg ] || k delete pvc "data-$name-xmpp-postgresql-0" --wait=true >/dev/null
  [ "$server:$storage" != ejabberd:internal ] || k delete pvc "data-$name-xmpp-1" "$name-uploads" --wait=true >/dev/null
done
k delete pvc xmpp-backups --wait=true >/dev/null
kubectl patch pv "$pv" --type json -p '[{"op":"remove","path":"/spec/claimRef"}]' >/dev/null
NS1=$NS NS=$NS-restored
kubectl create namespace "$NS" >/dev/null
kubectl label namespace "$NS" pod-security.kubernetes.io/enforce=restricted >/dev/null
k create secret generic xmpp-secrets --from-literal=XMPP_DB_PASSWORD="$DB_SECRET" \
  --from-literal=TURN_SECRET="$TURN_SECRET" >/dev/null
k create secret tls xmpp-tls --cert="$WORK/tls.crt" --key="$WORK/tls.key" >/dev/null
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: xmpp-backups}
spec: {accessModes: [ReadWriteOnce], storageClassName: standard, volumeName: $pv, resources: {requests: {storage: 64Mi}}}
EOF
for rel in xb:yb:ejabberd:internal xq:yq:prosody:internal xc:yc:ejabberd:pg xr:yr:prosody:pg; do
  IFS=: read -r old name server storage <<<"$rel"
  site "$name" "$FIX/site-upgraded.xmpp" "$storage"
  cluster_args "$name" "$server" "$storage"
  start=$(date +%s%N)
  # ejabberd on Mnesia: two nodes, the second joins the restored one
  helm xmpp install "$name" "$ROOT/charts/xmpp" -n "$NS" -f "$SITE" -f "$FIX/values.yaml" --set server="$server" "${CLUSTER[@]}" \
    --set postgresql.enabled=$([ "$storage" = pg ] && echo true || echo false) --set restore.from="${made[$old]}" \
    --set restore.volume.persistentVolumeClaim.claimName=xmpp-backups --wait --timeout 5m >/dev/null 2>"$WORK/$name.err" ||
    { cat "$WORK/$name.err" >&2; k logs "$name-xmpp-0" -c restore >&2 || true; fail "install $name restoring ${made[$old]}"; }
  said=$(k logs "$name-xmpp-0" -c restore)
  [ "$storage" != pg ] || said="$said; $(k logs "$name-xmpp-postgresql-0" -c postgresql | grep '^restore:')"
  echo "$name ($server, $storage): restored ${made[$old]} into $NS, install to Ready $(( ($(date +%s%N) - start) / 1000000 ))ms: $said" >&2
  userdata read "$name" "$old" || fail "$name: the restored release lacks user data"
done
joined yb-xmpp-1 && ctl yb-xmpp-1 check_account bob $DOMAIN || fail "yb: pod 1 did not join the restored node"
# A restarted pod 0, or database, is not restored twice (the mark on its claim).
for pod in yb-xmpp-0 yc-xmpp-postgresql-0; do
  k delete pod "$pod" --wait=true >/dev/null
  until_ok 60 k get pod "$pod" || fail "$pod was not replaced"
  ready "$pod" || fail "$pod did not come back"
  k logs "$pod" -c restore | grep -q "restored before" || fail "$pod: the restore ran again: $(k logs "$pod" -c restore)"
done
ready yc-xmpp-0 && userdata read yc xc || fail "yc: the data went with the database's restart"
for name in yb yq yc yr; do helm uninstall "$name" -n "$NS" --wait >/dev/null; done
kubectl delete namespace "$NS" --wait=false >/dev/null
NS=$NS1
kubectl delete pv "$pv" --wait=false >/dev/null
pass
fi

# ------------------------------------------------------------------ 17. server upgrades, data kept
# ejabberd 23.01 (two nodes) and Prosody 0.12 with user data, upgraded to 24.12 and 13.0 with the DSL's
# targets raised. The chart refuses to mix ejabberd releases in one cluster (scale to one node, upgrade
# it, scale out); the pre-upgrade check stops a config the new server refuses before any pod rolls.
if with_helm helm4 17-server-upgrade; then
begin 17-server-upgrade
running() { # POD: the server release the pod's container runs
  k get pod "$1" -o jsonpath='{.spec.containers[0].image}' | sed 's/.*://'
}
for rel in xu:ejabberd:23.01:2 xv:prosody:0.12:1; do
  IFS=: read -r name server old replicas <<<"$rel"
  up "$name" "$FIX/site-old.xmpp" --set server="$server" --set "image.$server.tag=$old" --set replicaCount="$replicas" ||
    { cat "$WORK/up.err" >&2; fail "install $name on $server $old"; }
  register "$name" "$server" alice bob
  userdata write "$name" "$name" || fail "$name: writing the user data"
done
# ejabberd: the cluster of two is not upgraded in place; the message says what to do.
if up xu "$FIX/site-upgraded.xmpp" --set replicaCount=2; then fail "xu: a 24.12 node was let into a 23.01 cluster"; fi
grep -q "nodes of different releases must not share a cluster" "$WORK/up.err" && grep -q "23.01" "$WORK/up.err" &&
  grep -q "24.12" "$WORK/up.err" || fail "xu: refused without saying why: $(cat "$WORK/up.err")"
[ "$(running xu-xmpp-1)" = 23.01 ] || fail "xu: pod 1 changed"
up xu "$FIX/site-old.xmpp" --set image.ejabberd.tag=23.01 --set replicaCount=1 || { cat "$WORK/up.err" >&2; fail "xu: scale to 1"; }
until_ok 60 in_cluster "xu-xmpp-0 " xu-xmpp-0 || fail "xu: pod 1 did not leave: $(members xu-xmpp-0)"
# The pre-upgrade check: the new releases refuse the escape hatches' mistakes; nothing rolls.
for rel in xu:ejabberd xv:prosody; do
  IFS=: read -r name server <<<"$rel"
  revision=$(sts_revision "$name-xmpp")
  if up "$name" "$FIX/refused-by-server.xmpp" --set server="$server"; then fail "$name: the refused config was rolled out"; fi
  grep -q "pre-upgrade hooks failed" "$WORK/up.err" || fail "$name: not stopped by the check: $(cat "$WORK/up.err")"
  echo "$name: the pre-upgrade check said: $(k logs "job/$name-xmpp-config-check" 2>&1 | grep -v '^\s*$' | tail -n 3 | tr '\n' ' ')" >&2
  [ "$(sts_revision "$name-xmpp")" = "$revision" ] || fail "$name: the pods rolled"
  k delete job "$name-xmpp-config-check" --ignore-not-found >/dev/null
  k delete configmap "$name-xmpp-config-check" --ignore-not-found >/dev/null
done
# The upgrades: the new image (the chart's default tag) and the DSL's targets raised.
for rel in xu:ejabberd:24.12 xv:prosody:13.0; do
  IFS=: read -r name server new <<<"$rel"
  start=$(date +%s%N)
  up "$name" "$FIX/site-upgraded.xmpp" --set server="$server" --set replicaCount=1 ||
    { cat "$WORK/up.err" >&2; fail "$name: upgrade to $new"; }
  echo "$name: $server upgraded to $new in $(( ($(date +%s%N) - start) / 1000000 ))ms (the check, then the pod)" >&2
  [ "$(running "$name-xmpp-0")" = "$new" ] || fail "$name: runs $(running "$name-xmpp-0")"
  userdata read "$name" "$name" || fail "$name: the upgraded server lost user data"
done
ctl xu-xmpp-0 status | grep -q "ejabberd 24.12" || fail "xu: $(ctl xu-xmpp-0 status)"
# Scaled out again: the new node runs the same release and joins.
up xu "$FIX/site-upgraded.xmpp" --set replicaCount=2 || { cat "$WORK/up.err" >&2; fail "xu: scale out"; }
in_cluster "xu-xmpp-0 xu-xmpp-1 " xu-xmpp-0 xu-xmpp-1 || fail "xu: pod 1 did not join: $(members xu-xmpp-1)"
ctl xu-xmpp-1 check_account alice $DOMAIN || fail "xu: the new node does not know the accounts"
# On the bundled PostgreSQL: ejabberd 23.01 (its schema loaded by the operator, as 23.01 cannot make
# it) and Prosody 0.12; upgraded, the schema brought up to date by the new servers themselves.
for rel in xw:ejabberd:23.01:24.12 xx:prosody:0.12:13.0; do
  IFS=: read -r name server old new <<<"$rel"
  site "$name" "$FIX/site-old.xmpp" pg
  up "$name" "$SITE" --set server="$server" --set "image.$server.tag=$old" --set postgresql.enabled=true ||
    { cat "$WORK/up.err" >&2; fail "install $name on $server $old with PostgreSQL"; }
  if [ "$server" = ejabberd ]; then
    k exec "$name-xmpp-0" -c ejabberd -- cat /usr/share/ejabberd/sql/pg.new.sql |
      k exec -i "$name-xmpp-postgresql-0" -c postgresql -- psql -q -v ON_ERROR_STOP=1 -U xmpp -d xmpp >/dev/null ||
      fail "$name: loading ejabberd $old's schema"
  fi
  register "$name" "$server" alice bob
  userdata write "$name" "$name" || fail "$name: writing the user data"
  site "$name" "$FIX/site-upgraded.xmpp" pg
  start=$(date +%s%N)
  up "$name" "$SITE" --set server="$server" --set postgresql.enabled=true || { cat "$WORK/up.err" >&2; fail "$name: upgrade to $new"; }
  echo "$name: $server on PostgreSQL upgraded to $new in $(( ($(date +%s%N) - start) / 1000000 ))ms" >&2
  [ "$(running "$name-xmpp-0")" = "$new" ] || fail "$name: runs $(running "$name-xmpp-0")"
  userdata read "$name" "$name" || fail "$name: the upgraded server lost user data"
  [ "$(sql "$name" "SELECT count(*) FROM ${archive[$server]}")" -gt 0 ] || fail "$name: the archive is not in PostgreSQL"
done
for name in xu xv xw xx; do helm uninstall "$name" -n "$NS" --wait >/dev/null; done
for pvc in data-xu-xmpp-0 data-xu-xmpp-1 data-xv-xmpp-0 data-xw-xmpp-0 data-xx-xmpp-0 data-xw-xmpp-postgresql-0 \
  data-xx-xmpp-postgresql-0; do k delete pvc "$pvc" --wait=false >/dev/null; done
pass
fi

# ------------------------------------------------------------------ 18. two releases federate, found through DNS
begin 18-federation-through-srv
# An ejabberd release and a Prosody release, each its own domain, certificates from one test CA that
# both trust (`verify certificate`: SASL EXTERNAL). Neither domain has an address record: each server
# finds the other only through the `_xmpp-server._tcp` SRV record the cluster DNS serves, pointing at
# the other release's Service, as public DNS points at a LoadBalancer in production.
fed_a=ejabberd-$HELM.example fed_b=prosody-$HELM.example
test_ca fed-ca
for rel in fa fb; do
  domain=$fed_a server=ejabberd; [ $rel = fb ] && domain=$fed_b server=prosody
  issue fed-ca "$rel" "$domain"
  k create secret generic "$rel-tls" --type=kubernetes.io/tls --from-file=tls.crt="$WORK/$rel.crt" \
    --from-file=tls.key="$WORK/$rel.key" --from-file=ca.crt="$WORK/fed-ca.crt" >/dev/null
  cat >"$DNS_ZONES/db.$domain" <<EOF
\$ORIGIN $domain.
@ 5 IN SOA ns.example. hostmaster.example. $(date +%s) 60 60 60 5
@ 5 IN NS ns.example.
_xmpp-server._tcp 5 IN SRV 0 5 5269 $rel-xmpp.$NS.svc.cluster.local.
EOF
  cat >"$WORK/$rel.xmpp" <<EOF
targets ejabberd >= 24.12, prosody >= 13.0
domain "$domain" { certificate "/etc/xmpp/tls/tls.crt" key "/etc/xmpp/tls/tls.key" }
listen client 5222 { tls required }
listen federation 5269 { tls required; verify certificate; trust "/etc/xmpp/tls/ca.crt" }
EOF
  up $rel "$WORK/$rel.xmpp" --set server=$server --set tls.existingSecret=$rel-tls ||
    { cat "$WORK/up.err" >&2; fail "install $rel ($server)"; }
done
ctl fa-xmpp-0 register alice "$fed_a" "$PASSWORD" >/dev/null
k exec fb-xmpp-0 -c prosody -- prosodyctl register bob "$fed_b" "$PASSWORD" >/dev/null
forward svc/fa-xmpp 5222; port_a=$FWD
forward svc/fb-xmpp 5222; port_b=$FWD
out=$("$PY" "$ROOT/tests/clients/scenarios.py" --port "$port_a" --domain "$fed_a" --password "$PASSWORD" \
  --peer "$fed_b:127.0.0.1:$port_b" --ca "$WORK/fed-ca.crt" --only federation)
echo "$out" >&2
grep -q '"ok": true' <<<"$out" || fail "no message crossed between $fed_a and $fed_b"
for rel in fa fb; do
  helm uninstall $rel -n "$NS" --wait >/dev/null
  k delete "pvc/data-$rel-xmpp-0" "secret/$rel-tls" --wait=true >/dev/null
done
rm -f "$DNS_ZONES/db.$fed_a" "$DNS_ZONES/db.$fed_b"
pass

# ------------------------------------------------------------------ 19. uninstall leaves only the claims
begin 19-uninstall-keeps-claims
for rel in "$REL" xp foreign; do helm uninstall "$rel" -n "$NS" --wait >/dev/null; done
k wait --for=delete pod --all --timeout=120s >/dev/null 2>&1 || true
left=$(k get all,configmap,secret,serviceaccount,pdb,ingress,networkpolicy,hpa -o name 2>/dev/null |
  grep -v -e '^configmap/kube-root-ca.crt$' -e '^serviceaccount/default$' -e '^secret/xmpp-secrets$' -e '^secret/xmpp-tls$' || true)
[ -z "$left" ] || fail "left behind: $left"
pvcs=$(k get pvc -o name | sort | tr '\n' ' ')
want="persistentvolumeclaim/data-xe-xmpp-0 persistentvolumeclaim/data-xe-xmpp-1 "
[ "$HELM" != helm4 ] || want+="persistentvolumeclaim/data-xe-xmpp-2 " # 15 scaled xe to three
[ "$pvcs" = "${want}persistentvolumeclaim/data-xp-xmpp-0 " ] ||
  fail "the README says the claims stay: $pvcs"
kubectl delete namespace "$NS" --wait=false >/dev/null
pass
