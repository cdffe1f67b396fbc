#!/usr/bin/env bash
# `make images`: build the xyd image (every role) and the PostgreSQL image with podman, from nothing but
# Debian's packages and the package registry: no base image is pulled.
#  1. installs podman, runc and debootstrap with apt-get when they are missing;
#  2. builds the base image localhost/xyd-debian-min:bookworm with debootstrap (minbase) from the Debian
#     mirror apt already uses, unless it exists;
#  3. builds localhost/xyd:latest (docker/Dockerfile) and localhost/xyd-postgres:15 (docker/postgres.Dockerfile).
# Podman runs with the runc runtime, cgroupfs and lowered rlimits (crun and the default rlimits are refused on
# these machines); pip reaches the registry with the host's CA bundle mounted for the build only.
# Environment: XYD_IMAGE, XYD_POSTGRES_IMAGE, XYD_BASE_IMAGE (names), DEBIAN_MIRROR, HOST_CA_BUNDLE.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${XYD_BASE_IMAGE:-localhost/xyd-debian-min:bookworm}
IMAGE=${XYD_IMAGE:-localhost/xyd:latest}
PG_IMAGE=${XYD_POSTGRES_IMAGE:-localhost/xyd-postgres:15}
CA_BUNDLE=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/docker/containers.conf}
PODMAN=(podman --runtime runc --cgroup-manager cgroupfs)
LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

say() { printf '[images] %s\n' "$*" >&2; }

missing=()
for tool in podman runc debootstrap; do command -v "$tool" > /dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
    say "installing ${missing[*]} with apt-get"
    [[ $(id -u) == 0 ]] || { say "need root to install ${missing[*]}"; exit 1; }
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        podman runc debootstrap uidmap slirp4netns netavark aardvark-dns iptables
fi

# The Debian mirror apt already uses (deb822 .sources files or one-line sources.list).
debian_mirror() {
    local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
    { grep -hsE '^[[:space:]]*(deb[[:space:]]|URIs:)' "${files[@]}" || true; } \
        | tr ' \t' '\n\n' | grep -E '^https?://' | grep -E '/debian/?$' | head -n 1
}

if ! "${PODMAN[@]}" image exists "$BASE"; then
    mirror=${DEBIAN_MIRROR:-$(debian_mirror)}
    [[ -n $mirror ]] || { say "no Debian mirror found in apt's sources; set DEBIAN_MIRROR"; exit 1; }
    rootfs=$(mktemp -d /var/tmp/xyd-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' EXIT
    say "debootstrap bookworm (minbase) from $mirror"
    started=$SECONDS
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$rootfs.log" 2>&1 \
        || { tail -n 20 "$rootfs.log" >&2; exit 1; }
    rm -f "$rootfs.log"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | "${PODMAN[@]}" import --change 'CMD ["/bin/bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$BASE" > /dev/null
    rm -rf "$rootfs"
    trap - EXIT
    say "base image $BASE in $((SECONDS - started)) s"
fi

build() {
    local tag=$1 file=$2 started=$SECONDS previous
    previous=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$tag" 2> /dev/null || true)
    say "building $tag from $file"
    "${PODMAN[@]}" build "${LIMITS[@]}" --format docker --network host --layers \
        --build-arg "BASE=$BASE" -v "$CA_BUNDLE:/run/host-ca.crt:ro" -f "$file" -t "$tag" .
    say "$tag in $((SECONDS - started)) s, $("${PODMAN[@]}" image inspect --format '{{.Size}}' "$tag") bytes"
    # The image this one replaces (kept while a container uses it); `podman image prune` clears build caches.
    if [[ -n $previous && $previous != $("${PODMAN[@]}" image inspect --format '{{.Id}}' "$tag") ]]; then
        "${PODMAN[@]}" rmi "$previous" > /dev/null 2>&1 || true
    fi
}
build "$IMAGE" docker/Dockerfile
build "$PG_IMAGE" docker/postgres.Dockerfile
