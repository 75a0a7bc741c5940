#!/usr/bin/env bash
# The official postgres image's entrypoint contract (docker-library/postgres docker-entrypoint.sh), for
# the image built here: on an empty PGDATA, initdb with POSTGRES_USER (default postgres) and
# POSTGRES_PASSWORD (required, unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_INITDB_ARGS; a
# server on the socket only creates POSTGRES_DB (default: the user) and runs /docker-entrypoint-initdb.d/*
# in name order (*.sh executable: run, else sourced; *.sql, *.sql.gz: psql); then pg_hba lets every
# host in with POSTGRES_HOST_AUTH_METHOD (default scram-sha-256) and `postgres` runs in the foreground.
# As root it re-runs itself as postgres; as any other user (Kubernetes' runAsUser) it runs as that user.
set -Eeo pipefail

docker_process_sql() {
  local db=(); [ -z "$POSTGRES_DB" ] || db=(--dbname "$POSTGRES_DB")
  PGHOST= PGHOSTADDR= psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "${db[@]}" "$@"
}

docker_process_init_files() {
  local f
  for f in "$@"; do
    case "$f" in
      *.sh) if [ -x "$f" ]; then echo "$0: running $f"; "$f"; else echo "$0: sourcing $f"; . "$f"; fi ;;
      *.sql) echo "$0: running $f"; docker_process_sql -f "$f" ;;
      *.sql.gz) echo "$0: running $f"; gunzip -c "$f" | docker_process_sql ;;
      *) echo "$0: ignoring $f" ;;
    esac
  done
}

main() {
  if [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi
  if [ "$1" != postgres ]; then exec "$@"; fi

  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA" 2>/dev/null || :
  mkdir -p /var/run/postgresql
  chmod 03775 /var/run/postgresql 2>/dev/null || :
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres "$PGDATA" /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
  fi

  : "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}" "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
  export POSTGRES_USER POSTGRES_DB POSTGRES_PASSWORD
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
      echo "Error: Database is uninitialized and superuser password is not specified." >&2
      echo "       Set POSTGRES_PASSWORD to a non-empty value (or POSTGRES_HOST_AUTH_METHOD=trust)." >&2
      exit 1
    fi
    # shellcheck disable=SC2086  # word-split, as upstream
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") \
      --encoding=UTF8 --locale=C.UTF-8 ${POSTGRES_INITDB_ARGS:-}
    printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"
    PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start
    if [ "$POSTGRES_DB" != postgres ]; then
      POSTGRES_DB= docker_process_sql --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    docker_process_init_files /docker-entrypoint-initdb.d/*
    PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -m fast -w stop
    echo "PostgreSQL init process complete; ready for start up."
  fi
  exec "$@"
}

main "$@"
