# PostgreSQL 15 from Debian's packages on the same debootstrap base (no base image is pulled).
# Data lives in the volume at /var/lib/postgresql/data; docker/postgres-entrypoint.sh initialises it on the
# first start from POSTGRES_USER / POSTGRES_DB and the password file POSTGRES_PASSWORD_FILE.
ARG BASE=localhost/xyd-debian-min:bookworm
FROM ${BASE}
# A fixed uid, so the provisioning step can hand the password file to this user (10002) in a volume.
RUN useradd --system --uid 10002 --user-group --home-dir /var/lib/postgresql --shell /bin/sh postgres \
    && apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && mkdir -p /var/lib/postgresql/data /run/postgresql \
    && chown postgres:postgres /var/lib/postgresql/data /run/postgresql
COPY --chmod=0755 docker/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/bin:/bin PGDATA=/var/lib/postgresql/data
USER postgres
HEALTHCHECK --interval=5s --timeout=5s --start-period=30s --retries=5 \
    CMD ["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
