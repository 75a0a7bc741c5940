# shellcheck shell=bash
# What the scenarios run inside the node share (chart.sh, edge.sh): Helm with homes of its own and this
# checkout's plugin, kubectl in the namespace $NS (default xmpp-$HELM), port-forwards, the slixmpp
# clients, and a scratch folder removed at exit. The caller sets HELM (helm3 or helm4) first.
: "${HELM:?set HELM (helm3 or helm4) before sourcing in-node.sh}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
# shellcheck source=../../lib.sh
. "$ROOT/tests/lib.sh"
FIX=$ROOT/tests/cluster/fixtures
PY=$HX_VENV/bin/python
HURL=$HX_HURL_DIR/bin/hurl
NS=${NS:-xmpp-$HELM}
DOMAIN=chat.test
PASSWORD=cluster-user-pw
# Secret values the scenarios supply; none may show in a ConfigMap, a manifest or a log.
DB_SECRET=db-secret-$RANDOM$RANDOM
TURN_SECRET=turn-secret-$RANDOM$RANDOM
WORK=$(mktemp -d "/tmp/hx-cluster-$HELM.XXXXXX")
PIDS=()

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Helm with homes of its own; the plugins installed from this checkout.
export HELM_DATA_HOME=$WORK/helm/data HELM_CONFIG_HOME=$WORK/helm/config HELM_CACHE_HOME=$WORK/helm/cache
unset HELM_PLUGINS
export HELM_XMPP_BIN=$ROOT/target/release/helm-xmpp
helm() { HELM_XMPP_RELEASE_URL=none "$HX_BIN/$HELM" "$@"; } # the plugin from this checkout
k() { kubectl -n "$NS" "$@"; }

fail() { echo "FAIL [$HELM] $SCENARIO: $*" >&2; exit 1; }
SCENARIO=setup
T0=0
begin() { SCENARIO=$1; T0=$(date +%s%N); echo "--- [$HELM] $SCENARIO" >&2; }
pass() { echo "ok [$HELM] $SCENARIO $(( ($(date +%s%N) - T0) / 1000000 ))ms"; }

# until_ok SECONDS CMD...: retries CMD (a command or function) every second until it succeeds.
until_ok() {
  local limit=$1 i; shift
  for ((i = 0; i < limit; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  return 1
}

# forward TARGET PORT: a kubectl port-forward to a free local port, in $FWD; stopped at exit.
FWD=
forward() {
  local target=$1 port=$2 log=$WORK/pf.$RANDOM
  : >"$log" # made here: the background job may open it only after the loop below first reads it
  k port-forward "$target" ":$port" >"$log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    FWD=$(sed -n 's/^Forwarding from 127.0.0.1:\([0-9]*\) .*/\1/p' "$log" | head -1)
    [ -n "$FWD" ] && return 0
    sleep 0.1
  done
  cat "$log" >&2; fail "port-forward $target $port did not start"
}

# run_clients PORT SCENARIOS [ARGS...]: slixmpp scenarios through a forwarded port; true when all pass.
run_clients() {
  local port=$1 only=$2 out; shift 2
  out=$("$PY" "$ROOT/tests/clients/scenarios.py" --port "$port" --domain "$DOMAIN" --password "$PASSWORD" --only "$only" "$@")
  echo "$out" >&2
  ! grep -q '"ok": false' <<<"$out" && [ "$(grep -c '"ok": true' <<<"$out")" -eq "$(tr ',' '\n' <<<"$only" | wc -l)" ]
}
clients() { run_clients "$@" || fail "client scenarios $2 failed"; }

# test_ca NAME: a CA for a scenario's certificates, $WORK/NAME.crt and .key
test_ca() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=helm-xmpp $1 CA" \
    -keyout "$WORK/$1.key" -out "$WORK/$1.crt" 2>/dev/null
}
# issue CA NAME DOMAIN: $WORK/NAME.crt and .key, for DOMAIN and its subdomains, signed by test_ca CA
issue() {
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$3" -keyout "$WORK/$2.key" -out "$WORK/$2.csr" 2>/dev/null
  openssl x509 -req -in "$WORK/$2.csr" -CA "$WORK/$1.crt" -CAkey "$WORK/$1.key" -days 2 \
    -extfile <(printf 'subjectAltName=DNS:%s,DNS:*.%s' "$3" "$3") -out "$WORK/$2.crt" 2>/dev/null
}

ctl() { local pod=$1; shift; k exec "$pod" -c ejabberd -- ejabberdctl "$@"; }
cluster_nodes() { ctl "$1" list_cluster | grep -c 'ejabberd@'; }
joined() { [ "$(cluster_nodes "$1")" = 2 ]; }
sts_revision() { k get statefulset "$1" -o jsonpath='{.status.updateRevision}'; }
config_data() { k get configmap "$1" -o jsonpath='{.data}'; }
ready() { k wait --for=condition=Ready "pod/$1" --timeout="${2:-180}s" >/dev/null; }
rolled_out() { k rollout status "statefulset/$1" --timeout="${2:-300}s" >/dev/null; }
# members POD: the nodes in the Mnesia schema of that pod's node, running or not (list_cluster names
# the running ones only), as pod names, sorted, on one line; read through an Erlang node of its own
members() {
  # shellcheck disable=SC2016  # expanded in the pod
  k exec "$1" -c ejabberd -- sh -c 'erl -noshell -hidden -name "members-$$@${ERLANG_NODE_ARG#*@}" \
    -erl_epmd_port "$ERL_DIST_PORT" -start_epmd false -dist_listen false -eval "
      N = list_to_atom(os:getenv(\"ERLANG_NODE_ARG\")),
      [io:format(\"~s~n\", [X]) || X <- rpc:call(N, mnesia, system_info, [db_nodes])], halt()."' |
    sed 's/^ejabberd@//; s/[.].*//' | sort | tr '\n' ' '
}
in_cluster() { local pod want=$1; shift; for pod in "$@"; do [ "$(members "$pod")" = "$want" ] || return 1; done; }
# up RELEASE DSL ARGS...: helm xmpp upgrade --install with the fixtures' values, quiet; its stderr in $WORK/up.err
up() {
  local rel=$1 dsl=$2; shift 2
  helm xmpp upgrade --install "$rel" "$ROOT/charts/xmpp" -n "$NS" -f "$dsl" -f "$FIX/values.yaml" "$@" \
    --wait --timeout 5m >/dev/null 2>"$WORK/up.err"
}
# site RELEASE DSL STORAGE: the DSL the release installs, in $SITE: DSL itself (STORAGE internal), or
# with the release's bundled PostgreSQL (pg; its install adds --set postgresql.enabled=true)
site() {
  SITE=$2
  [ "$3" = pg ] || return 0
  SITE=$WORK/$1-$(basename "$2")
  { cat "$2"; printf 'storage postgres { host "%s-xmpp-postgresql"; database "xmpp"; user "xmpp"; password env("XMPP_DB_PASSWORD") }\n' "$1"; } >"$SITE"
}
# sql RELEASE QUERY: a query's answer from the release's bundled PostgreSQL
sql() { k exec "$1-xmpp-postgresql-0" -c postgresql -- psql -U xmpp -d xmpp -tAc "$2"; }
# the archive's table of each server, where the data are in PostgreSQL
declare -A archive=([ejabberd]=archive [prosody]=prosodyarchive)
# register RELEASE SERVER USER...: accounts made with the server's own tool on pod 0
register() {
  local rel=$1 server=$2 user; shift 2
  for user in "$@"; do
    if [ "$server" = ejabberd ]; then ctl "$rel-xmpp-0" register "$user" $DOMAIN "$PASSWORD" >/dev/null
    else k exec "$rel-xmpp-0" -c prosody -- prosodyctl register "$user" $DOMAIN "$PASSWORD" >/dev/null; fi
  done
}
# userdata write|read RELEASE STATE: tests/clients/userdata.py through port-forwards to the release's Service
userdata() { # MODE RELEASE STATE
  local out xmpp
  forward "svc/$2-xmpp" 5222; xmpp=$FWD
  forward "svc/$2-xmpp" 5280
  out=$("$PY" "$ROOT/tests/clients/userdata.py" "$1" --port "$xmpp" --http "$FWD" --domain "$DOMAIN" \
    --password "$PASSWORD" --muc "conference.$DOMAIN" --upload "upload.$DOMAIN" --state "$WORK/userdata-$3")
  echo "$2: userdata $1: $out" >&2
  grep -q '"ok": true' <<<"$out"
}

