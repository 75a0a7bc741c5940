#!/bin/sh
# mmdebstrap customize hook for localhost/ejabberd:24.12 ($1 = the image's root). The layout of the
# official ghcr.io/processone/ejabberd image: user ejabberd 9000:9000, HOME=/opt/ejabberd,
#   conf/     ejabberd.yml (upstream's example + the container's certfiles/ca_file), ejabberdctl.cfg, inetrc,
#             server.pem (self-signed, CN=localhost), cacert.pem
#   database/ logs/ upload/
# /usr/local/bin/ejabberdctl honours the official environment (see that file).
#
# Writable paths: /opt/ejabberd is declared a VOLUME, as in the official image, so containerd (and Docker)
# give each container a writable copy of it even under readOnlyRootFilesystem; what is written there is
# lost with the container unless a volume is mounted over it. ejabberd writes (verified with a read-only
# root and only these writable):
#   /opt/ejabberd/database   Mnesia, the ACME/cert cache (SPOOL_DIR): the PersistentVolumeClaim
#   /opt/ejabberd/logs       ejabberd.log, error.log, crash dumps (LOGS_DIR); read-only: a critical
#                            "Failed to set logging" message, the server still runs (console log only)
#   $HOME/.erlang.cookie     HOME=/opt/ejabberd; Erlang creates the cookie when ERLANG_COOKIE is unset
#   /opt/ejabberd/upload     only when mod_http_upload stores files (docroot @HOME@/upload)
# Nothing else: no PID file (EJABBERD_PID_PATH unset), /tmp unused. A runtime that ignores image volumes
# needs HOME pointed at a writable directory (e.g. HOME=/opt/ejabberd/database) and a logs volume.
set -eu
root=$1
files=$(cd "$(dirname "$0")" && pwd)

chroot "$root" mkdir -p /opt/ejabberd/conf /opt/ejabberd/database /opt/ejabberd/logs /opt/ejabberd/upload
cp "$files/ejabberdctl.cfg" "$files/inetrc" "$root/opt/ejabberd/conf/"
# as the official Dockerfile does: a CA bundle and the self-signed certificate after `loglevel:`
sed '/^loglevel:/a \
\
ca_file: /opt/ejabberd/conf/cacert.pem\
certfiles:\
  - /opt/ejabberd/conf/server.pem' "$files/ejabberd.yml" > "$root/opt/ejabberd/conf/ejabberd.yml"
cp -L "$root/etc/ssl/certs/ca-certificates.crt" "$root/opt/ejabberd/conf/cacert.pem"
chroot "$root" openssl req -x509 -batch -nodes -newkey rsa:2048 -days 3650 -subj /CN=localhost \
  -keyout /opt/ejabberd/conf/server.pem -out /opt/ejabberd/conf/server.pem 2>/dev/null
install -m 755 "$files/ejabberdctl" "$root/usr/local/bin/ejabberdctl"
chroot "$root" chown -R 9000:9000 /opt/ejabberd

# Debian's ejabberdctl: any user may run it (the official image has no INSTALLUSER either), and
# `foreground` execs the Erlang VM, so that SIGTERM reaches the VM and stops it cleanly.
f=$root/usr/sbin/ejabberdctl
sed -i 's/^INSTALLUSER=ejabberd$/INSTALLUSER=/' "$f"
sed -i 's/^\([[:space:]]*\)exec_erl "$ERLANG_NODE" $EJABBERD_OPTS -noinput$/\1[ "$EXEC_CMD" = as_current_user ] \&\& exec "$ERL" ${S:--}name "$ERLANG_NODE" $ERLANG_OPTS $EJABBERD_OPTS -noinput\n&/' "$f"
grep -q '^INSTALLUSER=$' "$f"
grep -q 'exec "$ERL" ${S:--}name "$ERLANG_NODE" $ERLANG_OPTS $EJABBERD_OPTS -noinput$' "$f"

# Debian's own defaults would compete with the official layout
rm -f "$root/etc/ejabberd/ejabberd.yml" "$root/etc/ejabberd/ejabberd.pem"
chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' ejabberd erlang-base > "$root/opt/ejabberd/.versions"
