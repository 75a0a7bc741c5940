# shellcheck shell=bash
# `node build`: the node's binaries, built from the Go module proxy into $BIN ($HX_KUBE_CACHE/bin), each
# with a stamp naming the recipe it was built from: etcd, Kubernetes (apiserver, controller-manager,
# scheduler, proxy, kubelet, kubectl), CoreDNS, a static pause, Traefik, Prometheus and the distribution
# registry; and the Gateway API CRDs. Sourced by tests/cluster/node.

# stamp NAME RECIPE: true when $BIN/NAME exists and was built from RECIPE (a string naming versions and flags)
stamped() { [ -x "$BIN/$1" ] && [ "$(cat "$BIN/$1.stamp" 2>/dev/null)" = "$2" ]; }
stamp() { printf '%s\n' "$2" > "$BIN/$1.stamp"; }

# mod_path FIELD MODULE@VERSION: a path the module cache gives for a module (`Dir`: its files, `GoMod`:
# its go.mod), downloading it first, from a scratch module of its own
mod_path() {
  local tmp out; tmp=$(mktemp -d)
  out=$(cd "$tmp" && printf 'module scratch\n' > go.mod && GOFLAGS=-mod=mod go mod download -json "$2" |
    sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\$/\1/p")
  rm -rf "$tmp"; printf '%s\n' "$out"
}

gobuild() { # go build, niced: the machine is shared with cargo
  CGO_ENABLED=0 nice -n 10 go build -trimpath "$@"
}

build_etcd() {
  local recipe; recipe="etcd $ETCD_VERSION $(go env GOVERSION)"
  stamped etcd "$recipe" && return 0
  # server/v3 has "=> ../api" replaces, so `go install` refuses it; a module that requires it works
  local src=$CACHE/src/etcd-$ETCD_VERSION t0=$SECONDS
  mkdir -p "$src" "$BIN"
  if [ ! -f "$src/go.sum" ]; then
    printf 'module ewrap\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" > "$src/go.mod"
    printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > "$src/tools.go"
    (cd "$src" && go mod tidy)
  fi
  log "building etcd $ETCD_VERSION"
  (cd "$src" && gobuild -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3)
  stamp etcd "$recipe"
  log "etcd built in $((SECONDS - t0)) s"
}

K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl)
build_k8s() {
  local recipe c missing=(); recipe="kubernetes $K8S_VERSION $(go env GOVERSION)"
  for c in "${K8S_CMDS[@]}"; do stamped "$c" "$recipe" || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  # `go install k8s.io/kubernetes/cmd/...@v` is refused (33 ./staging replaces); a wrapper module that
  # requires k8s.io/kubernetes and replaces each staging module by its published v0.X.Y builds them
  local src=$CACHE/src/kubernetes-$K8S_VERSION t0=$SECONDS
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local staging=v0.$minor.${K8S_VERSION##*.}
  mkdir -p "$src" "$BIN"
  if [ ! -f "$src/go.sum" ]; then
    log "resolving k8s.io/kubernetes@$K8S_VERSION"
    local gomod mods m
    gomod=$(mod_path GoMod "k8s.io/kubernetes@$K8S_VERSION")
    mods=$(sed -n '/^replace (/,/^)/p' "$gomod" | awk '$2=="=>" && $3 ~ /^\.\/staging/ {print $1}')
    {
      printf 'module kwrap\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
      for m in $mods; do printf '\t%s => %s %s\n' "$m" "$m" "$staging"; done
      printf ')\n'
    } > "$src/go.mod"
    {
      printf '//go:build tools\n\npackage tools\n\nimport (\n'
      for c in "${K8S_CMDS[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
      printf ')\n'
    } > "$src/tools.go"
    (cd "$src" && go mod tidy)
  fi
  # version stamps, otherwise /version says v0.0.0-master+$Format:%H$
  local ld="-s -w" p pkgs=()
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ld+=" -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  for c in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  log "building ${missing[*]} $K8S_VERSION (cold: 12–25 min on 2 cores)"
  rm -rf "$BIN"/.k8s.*
  local out; out=$(mktemp -d "$BIN/.k8s.XXXXXX")
  (cd "$src" && gobuild -ldflags "$ld" -o "$out/" "${pkgs[@]}")
  for c in "${missing[@]}"; do mv "$out/$c" "$BIN/$c"; stamp "$c" "$recipe"; done
  rmdir "$out"
  log "kubernetes built in $((SECONDS - t0)) s"
}

# go_install NAME MODULE@VERSION [NOTE]: `go install` of a module without replace directives into
# $BIN/NAME (through a folder of its own, so a failed build leaves no half binary), stamped with the
# version and Go's; nothing when that stamp is there.
go_install() {
  local name=$1 module=$2 recipe t0=$SECONDS tmp; recipe="$name ${module##*@} $(go env GOVERSION)"
  stamped "$name" "$recipe" && return 0
  log "building $name ${module##*@}${3:+ ($3)}"
  mkdir -p "$BIN"; tmp=$(mktemp -d "$BIN/.$name.XXXXXX")
  GOBIN=$tmp CGO_ENABLED=0 nice -n 10 go install -trimpath -ldflags "-s -w" "$module"
  mv "$tmp/$name" "$BIN/$name"; rmdir "$tmp"
  stamp "$name" "$recipe"
  log "$name built in $((SECONDS - t0)) s"
}

build_coredns() { go_install coredns "github.com/coredns/coredns@$COREDNS_VERSION"; }

build_pause() { # a static pause: sleeps, reaps children, exits on SIGINT/SIGTERM (replaces registry.k8s.io/pause)
  local src=$HERE/images/pause recipe
  recipe="pause $(cat "$src/main.go" | sha256sum | cut -c1-16) $(go env GOVERSION)"
  stamped pause "$recipe" && return 0
  local b; b=$(mktemp -d)
  cp "$src/main.go" "$b/"; printf 'module pause\n\ngo 1.22\n' > "$b/go.mod"
  (cd "$b" && gobuild -ldflags "-s -w" -o "$BIN/pause" .)
  rm -rf "$b"; stamp pause "$recipe"
}

# Traefik: the Ingress and Gateway API controller the chart's edge is proven with. `go install` refuses
# it (replace directives); a wrapper module builds it, with three stand-ins for what the module proxy
# here does not serve: the `dynamic/ext` module traefik replaces by a folder of its own (not published;
# upstream it holds two empty structs, which the stub below gives), an older pseudo-version of the
# go-http-auth fork it pins (the pinned one is refused), and lego without the 13 ACME DNS providers
# whose cloud SDKs are refused (a copy of lego from the module cache with their registrations removed;
# ACME is not used here).
TRAEFIK_HTTP_AUTH=v0.4.1-0.20200324110947-a37a7636d23e
TRAEFIK_LEGO_DROP=(alidns aliesa azion dnsimple edgedns edgeone huaweicloud oraclecloud regfish sakuracloud tencentcloud ucloud yandexcloud)
build_traefik() {
  local recipe; recipe="traefik $TRAEFIK_VERSION $(go env GOVERSION) auth $TRAEFIK_HTTP_AUTH"
  stamped traefik "$recipe" && return 0
  local src=$CACHE/src/traefik-$TRAEFIK_VERSION t0=$SECONDS
  mkdir -p "$src/ext" "$BIN"
  if [ ! -f "$src/go.sum" ]; then
    log "resolving traefik $TRAEFIK_VERSION"
    cat > "$src/ext/go.mod" <<'EOF'
module github.com/traefik/traefik/dynamic/ext

go 1.22
EOF
    cat > "$src/ext/ext.go" <<'EOF'
// Package ext stands in for the module traefik replaces by a folder of its own: two empty structs,
// embedded in its dynamic configuration, as upstream.
package ext

type HTTP struct{}

type Router struct{}
EOF
    local gomod lego dir p
    gomod=$(mod_path GoMod "github.com/traefik/traefik/v3@$TRAEFIK_VERSION")
    lego=$(awk '$1 == "github.com/go-acme/lego/v5" {print $1 "@" $2; exit}' "$gomod")
    dir=$(mod_path Dir "$lego")
    rm -rf "$src/lego"; cp -r "$dir" "$src/lego"; chmod -R u+w "$src/lego"
    for p in "${TRAEFIK_LEGO_DROP[@]}"; do   # the import line and the `case "p"…:` entry with its return
      sed -i -e "\#/providers/dns/$p\"\$#d" -e "/^[[:space:]]*case \"$p\"[,:]/,/^[[:space:]]*return $p\./d" \
        "$src/lego/providers/dns/zz_gen_dns_providers.go"
    done
    cat > "$src/go.mod" <<EOF
module twrap

go 1.26.0

require github.com/traefik/traefik/v3 $TRAEFIK_VERSION

replace (
	github.com/traefik/traefik/dynamic/ext => ./ext
	github.com/abbot/go-http-auth => github.com/containous/go-http-auth $TRAEFIK_HTTP_AUTH
	github.com/gorilla/mux => $(awk '$1 == "github.com/gorilla/mux" && $2 == "=>" {print $3, $4}' "$gomod")
	${lego%@*} => ./lego
)

exclude github.com/tencentcloud/tencentcloud-sdk-go v3.0.83+incompatible
EOF
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/traefik/traefik/v3/cmd/traefik"\n' > "$src/tools.go"
    (cd "$src" && go mod tidy)
  fi
  log "building traefik $TRAEFIK_VERSION (cold: about 5 min, 3 GB)"
  (cd "$src" && gobuild -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
    -o "$BIN/traefik" github.com/traefik/traefik/v3/cmd/traefik)
  stamp traefik "$recipe"
  log "traefik built in $((SECONDS - t0)) s"
}

build_prometheus() { # no replace directives: `go install` works
  go_install prometheus "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION" "cold: about 6 min, 3 GB"
}

build_registry() { # the CNCF distribution registry, which the chart is pushed to and installed from (oci://)
  go_install registry "github.com/distribution/distribution/v3/cmd/registry@$DISTRIBUTION_VERSION"
}

# The Gateway API CRDs (standard and experimental channels) of the version traefik is built with, from
# the module cache: $CACHE/gateway-api/{standard,experimental}.yaml
fetch_gateway_crds() {
  local out=$CACHE/gateway-api
  local recipe="$GATEWAY_API_VERSION objects-only, experimental without the policy"
  [ "$(cat "$out/version" 2>/dev/null)" = "$recipe" ] && return 0
  local dir; mkdir -p "$out"
  dir=$(mod_path Dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")/config/crd
  # The objects, not the folders' kustomization.yaml: the standard CRDs with their safe-upgrades admission
  # policy (which refuses experimental CRDs over them); the experimental CRDs alone, for a test that
  # removes that policy to put them in its place.
  awk 'FNR == 1 && NR > 1 {print "---"} {print}' "$dir/standard"/gateway.networking.*.yaml > "$out/standard.yaml"
  find "$dir/experimental" -name 'gateway.networking.*.yaml' ! -name '*_vap_*' | sort |
    xargs awk 'FNR == 1 && NR > 1 {print "---"} {print}' > "$out/experimental.yaml"
  echo "$recipe" > "$out/version"
}

NODE_PKGS=(containerd runc containernetworking-plugins iptables mmdebstrap busybox-static tini openssl curl iproute2 util-linux)
cmd_build() {
  local t0=$SECONDS
  apt_ensure "${NODE_PKGS[@]}"
  command -v go >/dev/null || die "go is needed to build the binaries"
  build_etcd
  build_k8s
  build_coredns
  build_pause
  build_traefik
  build_prometheus
  build_registry
  fetch_gateway_crds
  log "build done in $((SECONDS - t0)) s"
}
