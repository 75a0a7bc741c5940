#!/bin/sh
# mmdebstrap customize hook for localhost/postgres:15 ($1 = the image's root), as the official
# postgres:15 image (docker-library/postgres, Debian flavour): user postgres 999:999, no cluster of
# Debian's (create_main_cluster = false, set before the package was installed), the server's binaries
# on PATH (/usr/lib/postgresql/15/bin), listen_addresses = '*' in the sample config that initdb copies,
# /var/run/postgresql mode 3777, PGDATA=/var/lib/postgresql/data (a VOLUME), docker-entrypoint.sh.
#
# Under readOnlyRootFilesystem the server writes PGDATA, /var/run/postgresql (its socket and lock)
# and /tmp (pg_dump, psql): the chart mounts all three.
set -eu
root=$1
files=$(cd "$(dirname "$0")" && pwd)

sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "$root/usr/share/postgresql/15/postgresql.conf.sample"
grep -q "^listen_addresses = '\*'" "$root/usr/share/postgresql/15/postgresql.conf.sample"
chroot "$root" mkdir -p /var/run/postgresql /var/lib/postgresql/data /docker-entrypoint-initdb.d
chroot "$root" chown -R postgres:postgres /var/run/postgresql /var/lib/postgresql
chroot "$root" chmod 3777 /var/run/postgresql
chroot "$root" chmod 777 /var/lib/postgresql/data   # 700 at run time, as upstream
install -m 755 "$files/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
[ ! -e "$root/etc/postgresql/15" ] || { echo "the package made a cluster" >&2; exit 1; }
[ "$(chroot "$root" id -u postgres):$(chroot "$root" id -g postgres)" = 999:999 ]
chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' postgresql-15 > "$root/usr/local/share/postgres.versions"
