# shellcheck shell=bash
# `node images`: the test images, built from Debian packages (mmdebstrap) and cached as OCI archives
# in $IMG. Sourced by tests/cluster/node.

# Each image is one uncompressed layer in an OCI archive named localhost/NAME:TAG, imported into
# containerd at every start (pods use imagePullPolicy Never/IfNotPresent: there is no registry).
# An image is rebuilt only when its recipe changes: the recipe hash (the build function, its files
# under images/, the apt sources) is stored beside the archive.

# oci_archive NAME LAYER_TAR OUT CONFIG_JSON
oci_archive() {
  local name=$1 layer=$2 out=$3 cfg=$4 d lsha lsize csha csize msha msize
  d=$(mktemp -d "$IMG/.oci.XXXXXX")
  mkdir -p "$d/blobs/sha256"
  lsha=$(sha256sum "$layer" | cut -d' ' -f1); lsize=$(stat -c %s "$layer")
  ln "$layer" "$d/blobs/sha256/$lsha" 2>/dev/null || cp "$layer" "$d/blobs/sha256/$lsha"
  printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$cfg" "$lsha" > "$d/config.json"
  csha=$(sha256sum "$d/config.json" | cut -d' ' -f1); csize=$(stat -c %s "$d/config.json")
  mv "$d/config.json" "$d/blobs/sha256/$csha"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$csha" "$csize" "$lsha" "$lsize" > "$d/manifest.json"
  msha=$(sha256sum "$d/manifest.json" | cut -d' ' -f1); msize=$(stat -c %s "$d/manifest.json")
  mv "$d/manifest.json" "$d/blobs/sha256/$msha"
  # the containerd annotation names the image on import (localhost/... is never normalised to docker.io)
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$msha" "$msize" "$name" "${name##*:}" > "$d/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' > "$d/oci-layout"
  tar -C "$d" -cf "$out.tmp" oci-layout index.json blobs && mv "$out.tmp" "$out"
  rm -rf "$d"
}

debian_sources() { # bookworm + updates + security + backports, from the host's mirror
  local m s; m=$(apt_mirror); s=$(apt_mirror debian-security)
  printf '%s\n' "deb $m bookworm main" "deb $m bookworm-updates main" "deb $s bookworm-security main" \
    "deb $m bookworm-backports main"
}

# mmdebstrap_tar OUT PIN ARGS...: a minbase bookworm rootfs as a tar, without docs, man pages, locales and
# apt lists; the packages matching PIN (apt glob list) come from bookworm-backports. usrmerge goes (with
# perl, unless KEEP_PERL is set: PostgreSQL's packages need it): apt picks it for init-system-helpers,
# though mmdebstrap merged /usr already
mmdebstrap_tar() {
  local out=$1 pin=$2 purge="usrmerge libfile-find-rule-perl libnumber-compare-perl libtext-glob-perl perl \
    libperl5.36 perl-modules-5.36 libgdbm-compat4"; shift 2
  [ -z "${KEEP_PERL:-}" ] || purge=usrmerge
  local srcs=(); mapfile -t srcs < <(debian_sources)
  mmdebstrap --quiet --variant=minbase --format=tar --aptopt='Acquire::Languages "none"' \
    --setup-hook="mkdir -p \"\$1/etc/apt/preferences.d\" && printf 'Package: %s\nPin: release n=bookworm-backports\nPin-Priority: 990\n' '$pin' > \"\$1/etc/apt/preferences.d/backports\"" \
    --customize-hook="chroot \"\$1\" apt-get -qq -y purge $purge >/dev/null" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/cache/debconf/*-old "$1"/var/log/*' \
    "$@" bookworm "$out.tmp" "${srcs[@]}" </dev/null >&2
  mv "$out.tmp" "$out"
}

image_hash() { # NAME: hash of everything the image is built from (NAME: a recipe, or RECIPE-VERSION)
  { echo "$1"; declare -f "image_${1%%-*}" mmdebstrap_tar oci_archive; debian_sources
    [ ! -d "$HERE/images/${1%%-*}" ] || (cd "$HERE/images/${1%%-*}" && find . -type f | sort | xargs sha256sum)
    [ "$1" != pause ] || cat "$BIN/pause.stamp"
    dpkg-query -W -f='${Version}' mmdebstrap busybox-static 2>/dev/null; } | sha256sum | cut -c1-16
}

# the images: NAME IMAGE_REF; the recipe image_<NAME up to its first "-"> gets the tag as $3. Two releases
# of each server: the newer ones are the chart's defaults, the older ones for the upgrade scenario.
IMAGES=("pause localhost/pause:test" "busybox localhost/busybox:test" "ejabberd localhost/ejabberd:24.12"
        "ejabberd-23.01 localhost/ejabberd:23.01" "prosody localhost/prosody:13.0" "prosody-0.12 localhost/prosody:0.12"
        "postgres localhost/postgres:15")

image_pause() { # $1 = rootfs dir, $2 = out tar
  local r=$1
  mkdir -p "$r/etc" "$r/dev" "$r/proc" "$r/sys"
  printf 'root:x:0:0:root:/:/pause\nnobody:x:65534:65534:nobody:/:/pause\n' > "$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
  cp "$BIN/pause" "$r/pause"
  tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$r" -cf "$2" .
  echo '{"Entrypoint":["/pause"],"User":"65534:65534"}'
}

image_busybox() { # Debian's busybox-static for helm test pods (sh, nc, wget); glibc's NSS modules
  # beside it, since a static glibc binary still loads them for name lookups
  local r=$1 a f
  mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/dev" "$r/proc" "$r/sys" "$r/lib/x86_64-linux-gnu" "$r/lib64"
  chmod 1777 "$r/tmp"
  cp /bin/busybox "$r/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"; done
  for f in libc.so.6 libnss_files.so.2 libnss_dns.so.2 libresolv.so.2; do
    cp -L "/lib/x86_64-linux-gnu/$f" "$r/lib/x86_64-linux-gnu/$f"
  done
  cp -L /lib64/ld-linux-x86-64.so.2 "$r/lib64/"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' > "$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$r/etc/nsswitch.conf"
  tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$r" -cf "$2" .
  echo '{"Env":["PATH=/bin"],"Cmd":["sh"],"WorkingDir":"/"}'
}

image_ejabberd() {
  # ejabberd 24.12 from bookworm-backports (with its Erlang), or 23.01 from bookworm, laid out as the
  # official ghcr.io/processone/ejabberd image (images/ejabberd/customize.sh says how, and which paths
  # must be writable under a read-only root), with the SQL drivers the official image has (Debian's
  # package only suggests them)
  local pin="ejabberd erlang-*"; [ "$3" = 24.12 ] || pin=none
  mmdebstrap_tar "$2" "$pin" --include=ejabberd,erlang-p1-pgsql,erlang-p1-mysql,erlang-p1-sqlite3,ca-certificates,tini,openssl \
    --essential-hook='echo "ejabberd:x:9000:9000:ejabberd:/opt/ejabberd:/bin/sh" >> "$1/etc/passwd"
      echo "ejabberd:x:9000:" >> "$1/etc/group"; echo "ejabberd:*:19000:0:99999:7:::" >> "$1/etc/shadow"' \
    --customize-hook="$HERE/images/ejabberd/customize.sh"
  echo '{"User":"ejabberd","Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Entrypoint":["/usr/bin/tini","--","ejabberdctl"],"Cmd":["foreground"],"WorkingDir":"/opt/ejabberd","ExposedPorts":{"1883/tcp":{},"4369/tcp":{},"5210/tcp":{},"5222/tcp":{},"5269/tcp":{},"5280/tcp":{},"5443/tcp":{}},"Volumes":{"/opt/ejabberd":{}}}'
}

image_prosody() {
  # Prosody 13.0 from bookworm-backports, or 0.12 from bookworm, with Lua 5.4, as the official
  # prosodyim/prosody image; the user prosody is created first, as UID 101, GID 102
  # (images/prosody/customize.sh)
  local pin=prosody; [ "$3" = 13.0 ] || pin=none
  mmdebstrap_tar "$2" "$pin" \
    --include=prosody,lua5.4,lua-unbound,lua-sec,lua-readline,lua-dbi-sqlite3,lua-dbi-postgresql,lua-dbi-mysql,lua-ldap,ca-certificates,dns-root-data,tini \
    --essential-hook='echo "prosody:x:101:102:Prosody XMPP Server,,,:/var/lib/prosody:/usr/sbin/nologin" >> "$1/etc/passwd"
      echo "prosody:x:102:" >> "$1/etc/group"; echo "prosody:*:19000:0:99999:7:::" >> "$1/etc/shadow"' \
    --customize-hook="$HERE/images/prosody/customize.sh"
  echo '{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","__FLUSH_LOG=yes"],"Entrypoint":["/usr/bin/tini","--","/entrypoint.sh"],"Cmd":["prosody","-F"],"WorkingDir":"/","ExposedPorts":{"80/tcp":{},"443/tcp":{},"5222/tcp":{},"5269/tcp":{},"5347/tcp":{},"5280/tcp":{},"5281/tcp":{}}}'
}

image_postgres() {
  # PostgreSQL 15 from bookworm, as the official postgres:15 image (docker-library/postgres): user
  # postgres 999:999 created first, no cluster made by the package, data in PGDATA, the official
  # entrypoint's contract (images/postgres/docker-entrypoint.sh)
  KEEP_PERL=1 mmdebstrap_tar "$2" none --include=postgresql-15 \
    --essential-hook='echo "postgres:x:999:999::/var/lib/postgresql:/bin/bash" >> "$1/etc/passwd"
      echo "postgres:x:999:" >> "$1/etc/group"; echo "postgres:*:19000:0:99999:7:::" >> "$1/etc/shadow"
      mkdir -p "$1/etc/postgresql-common"; echo "create_main_cluster = false" > "$1/etc/postgresql-common/createcluster.conf"' \
    --customize-hook="$HERE/images/postgres/customize.sh"
  echo '{"User":"","Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/15/bin","PG_MAJOR=15","LANG=C.UTF-8","PGDATA=/var/lib/postgresql/data"],"Entrypoint":["docker-entrypoint.sh"],"Cmd":["postgres"],"StopSignal":"SIGINT","WorkingDir":"/","ExposedPorts":{"5432/tcp":{}},"Volumes":{"/var/lib/postgresql/data":{}}}'
}

cmd_images() {
  local t0=$SECONDS spec name ref h r cfg t1
  apt_ensure mmdebstrap busybox-static
  build_pause
  mkdir -p "$IMG"
  rm -rf "$IMG"/.rootfs.* "$IMG"/.oci.*      # left by an interrupted build
  local utab=; [ -e /run/mount ] || utab=1   # mmdebstrap's mounts leave libmount's /run/mount behind
  for spec in "${IMAGES[@]}"; do
    read -r name ref <<<"$spec"
    h=$(image_hash "$name")
    if [ -f "$IMG/$name.oci.tar" ] && [ "$(cat "$IMG/$name.stamp" 2>/dev/null)" = "$ref $h" ]; then continue; fi
    t1=$SECONDS
    log "building image $ref (recipe $h)"
    r=$(mktemp -d "$IMG/.rootfs.XXXXXX")
    cfg=$("image_${name%%-*}" "$r/root" "$r/layer.tar" "${ref##*:}")
    oci_archive "$ref" "$r/layer.tar" "$IMG/$name.oci.tar" "$cfg"
    rm -rf "$r"
    echo "$ref $h" > "$IMG/$name.stamp"
    [ -z "$utab" ] || rmdir /run/mount 2>/dev/null || true
    log "image $ref: $(( $(stat -c %s "$IMG/$name.oci.tar") / 1000000 )) MB in $((SECONDS - t1)) s"
  done
  log "images ready in $((SECONDS - t0)) s: $(cd "$IMG" && echo *.oci.tar)"
}
