#!/usr/bin/env bash
# Makes the Python base image of the MinGo images without any image registry, from Debian
# itself (for machines, like the project's own and its CI, that reach no registry):
#   1. debootstrap --variant=minbase bookworm into a temporary root filesystem, imported as
#      $DEBIAN_IMAGE (localhost/debian:bookworm);
#   2. docker/base.Dockerfile adds Debian's python3.11 + venv on top: $BASE_IMAGE
#      (localhost/mingo-python:3.11-bookworm), what docker/Dockerfile builds FROM.
# Idempotent: an image that exists is kept (FORCE=1 rebuilds both). Needs root (debootstrap)
# and podman or docker (CONTAINER_ENGINE; `make images` picks and exports it).
#
#   scripts/build_base_image.sh            # or: make images (calls this when the base is missing)
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ENGINE="${CONTAINER_ENGINE:-$(command -v podman >/dev/null 2>&1 && echo podman || echo docker)}"
DEBIAN_IMAGE="${DEBIAN_IMAGE:-localhost/debian:bookworm}"
BASE_IMAGE="${BASE_IMAGE:-localhost/mingo-python:3.11-bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
FORCE="${FORCE:-0}"
if [ "$ENGINE" = podman ] && [ -z "${CONTAINERS_CONF:-}" ]; then
    export CONTAINERS_CONF="$ROOT/docker/containers.conf"
fi

exists() { "$ENGINE" image inspect "$1" >/dev/null 2>&1; }
log() { echo "build_base_image: $*" >&2; }

if [ "$FORCE" != 1 ] && exists "$BASE_IMAGE"; then
    log "$BASE_IMAGE exists"
    exit 0
fi

if [ "$FORCE" = 1 ] || ! exists "$DEBIAN_IMAGE"; then
    if [ "$(id -u)" != 0 ]; then
        log "debootstrap needs root; or build on the official image instead:" \
            "make images BASE_IMAGE=python:3.11.14-slim-bookworm"
        exit 1
    fi
    bash "$ROOT/scripts/install_container_tools.sh" debootstrap
    rootfs="$(mktemp -d "${TMPDIR:-/var/tmp}/mingo-rootfs.XXXXXX")"
    trap 'rm -rf "$rootfs"' EXIT
    log "debootstrap --variant=minbase bookworm -> $rootfs"
    start=$SECONDS
    debootstrap --variant=minbase bookworm "$rootfs" "$DEBIAN_MIRROR" >"$rootfs.log" 2>&1 \
        || { tail -20 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
    rm -f "$rootfs.log"
    # Nothing of the build host's apt caches goes into the image.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | "$ENGINE" import - "$DEBIAN_IMAGE" >/dev/null
    log "$DEBIAN_IMAGE imported ($((SECONDS - start)) s)"
fi

start=$SECONDS
"$ENGINE" build -f "$ROOT/docker/base.Dockerfile" --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" \
    -t "$BASE_IMAGE" "$ROOT/docker"
log "$BASE_IMAGE built ($((SECONDS - start)) s)"
