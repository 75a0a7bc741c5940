#!/bin/sh
# mmdebstrap customize hook for localhost/prosody:13.0 ($1 = the image's root), as the official
# prosodyim/prosody image (prosody/prosody-docker): config /etc/prosody/prosody.cfg.lua (its env-driven
# prosody-13.0.cfg.lua), /etc/prosody/conf.d, data /var/lib/prosody, entrypoint.sh (root: usermod + runuser).
# User prosody: UID 101, GID 102, created before the package was installed.
#
# Under readOnlyRootFilesystem only /var/lib/prosody must be writable: no pidfile is configured,
# logs go to the console.
set -eu
root=$1
files=$(cd "$(dirname "$0")" && pwd)

# inside the chroot: /var/run is an absolute symlink to /run
chroot "$root" mkdir -p /etc/prosody/conf.d /var/run/prosody
chroot "$root" chown prosody:prosody /etc/prosody/conf.d /var/run/prosody
install -m 755 "$files/entrypoint.sh" "$root/entrypoint.sh"
install -m 644 "$files/prosody.cfg.lua" "$root/etc/prosody/prosody.cfg.lua"
chroot "$root" update-alternatives --set lua-interpreter /usr/bin/lua5.4 >/dev/null 2>&1 || true
[ "$(chroot "$root" id -u prosody):$(chroot "$root" id -g prosody)" = 101:102 ]
chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' prosody lua5.4 > "$root/etc/prosody/.versions"
