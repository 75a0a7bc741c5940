#!/bin/sh
# Runs `helm-xmpp postrender` with the post-renderer's arguments: manifests in, manifests out.
# Post-renderer plugins see only HELM_PLUGIN_NAME and HELM_PLUGIN_DIR, so the binary is looked for:
# $HELM_XMPP_BIN if set, this repository's bin/ (the folder a plugin install links to), the xmpp
# plugin installed beside this one, then PATH.
set -eu
# Helm 4 keeps a post-renderer plugin's standard error to itself, so diagnostics would be lost:
# write them to Helm's own standard error instead.
if [ -n "${HELM_PLUGIN_NAME:-}" ] && [ -w "/proc/$PPID/fd/2" ]; then exec 2>>"/proc/$PPID/fd/2"; fi
here=${HELM_PLUGIN_DIR:-$(dirname "$0")}
for bin in ${HELM_XMPP_BIN:+"$HELM_XMPP_BIN"} "$here/../../bin/helm-xmpp" "$(dirname "$here")"/*/bin/helm-xmpp; do
  if [ -x "$bin" ]; then exec "$bin" postrender "$@"; fi
done
exec helm-xmpp postrender "$@"
