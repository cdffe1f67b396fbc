#!/bin/sh
# Start PostgreSQL; on the first start initialise $PGDATA: the superuser's password from
# POSTGRES_PASSWORD_FILE, an application role POSTGRES_USER with the same password file's second line
# (or the first when there is one line), one database per name in POSTGRES_DATABASES owned by that role,
# password (SCRAM) authentication for every network client.
set -eu
: "${PGDATA:?}" "${POSTGRES_PASSWORD_FILE:?}" "${POSTGRES_USER:?}" "${POSTGRES_DATABASES:?}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    superuser=$(sed -n 1p "$POSTGRES_PASSWORD_FILE")
    app=$(sed -n 2p "$POSTGRES_PASSWORD_FILE")
    [ -n "$superuser" ] || { echo "postgres-entrypoint: $POSTGRES_PASSWORD_FILE is empty" >&2; exit 1; }
    [ -n "$app" ] || app=$superuser
    pwfile=$(mktemp)
    printf '%s\n' "$superuser" > "$pwfile"
    initdb --username=postgres --pwfile="$pwfile" --auth-local=peer --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" > /dev/null
    rm -f "$pwfile"
    printf "listen_addresses = '*'\npassword_encryption = 'scram-sha-256'\n" >> "$PGDATA/postgresql.conf"
    printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start > /dev/null
    psql -v ON_ERROR_STOP=1 -q -U postgres -d postgres -v user="$POSTGRES_USER" -v password="$app" <<'SQL'
CREATE ROLE :"user" LOGIN PASSWORD :'password';
SQL
    for db in $POSTGRES_DATABASES; do
        psql -v ON_ERROR_STOP=1 -q -U postgres -d postgres -v db="$db" -v user="$POSTGRES_USER" <<'SQL'
CREATE DATABASE :"db" OWNER :"user";
SQL
    done
    pg_ctl -D "$PGDATA" -m fast -w stop > /dev/null
    echo "postgres-entrypoint: initialised $PGDATA with databases $POSTGRES_DATABASES"
fi
exec postgres -D "$PGDATA"
