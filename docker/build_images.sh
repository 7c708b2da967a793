#!/usr/bin/env bash
# `make images`: builds MinGo's four images from docker/Dockerfile, in the order that reuses
# the most layers (the three prediction images, then the pipeline image on the same serving
# dependencies), and prints the time of each and their sizes. docker/README.md explains it.
#
# Settings (environment; the Makefile passes its variables of the same names):
#   CONTAINER_ENGINE  podman or docker. Default: podman when it is on PATH, else docker when it
#                     is on PATH and its daemon answers, else podman installed by
#                     scripts/install_container_tools.sh (Debian, root).
#   BASE_IMAGE        the Python 3.11 base. Default localhost/mingo-python:3.11-bookworm, made
#                     from Debian by scripts/build_base_image.sh when missing (no registry
#                     needed); python:3.11.14-slim-bookworm is the official alternative.
#   IMAGE_REGISTRY    name prefix of the images (default localhost).
#   IMAGE_TAG         their tag (default: the project version in pyproject.toml).
#   BUILD_CA_BUNDLE   a CA bundle for PyPI behind a TLS-inspecting proxy, given to the build as
#                     a secret (in no layer). Default: $SSL_CERT_FILE when that file exists.
#   CONTAINERS_CONF   podman's configuration; default docker/containers.conf.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
log() { echo "make images: $*" >&2; }

engine_answers() { command -v "$1" >/dev/null 2>&1 && "$1" info >/dev/null 2>&1; }

pick_engine() {
    if [ -n "${CONTAINER_ENGINE:-}" ]; then
        echo "$CONTAINER_ENGINE"
    elif command -v podman >/dev/null 2>&1; then
        echo podman
    elif engine_answers docker; then
        echo docker
    else
        log "no podman, and no docker daemon that answers: installing podman" >&2
        bash "$ROOT/scripts/install_container_tools.sh" podman runc >&2
        echo podman
    fi
}

ENGINE="$(pick_engine)"
if [ "$ENGINE" = podman ] && [ -z "${CONTAINERS_CONF:-}" ]; then
    # The project's containers.conf runs runc (crun refuses these machines' cgroup layout).
    bash "$ROOT/scripts/install_container_tools.sh" runc
    export CONTAINERS_CONF="$ROOT/docker/containers.conf"
fi
export CONTAINER_ENGINE="$ENGINE"
BASE_IMAGE="${BASE_IMAGE:-localhost/mingo-python:3.11-bookworm}"
IMAGE_REGISTRY="${IMAGE_REGISTRY:-localhost}"
IMAGE_TAG="${IMAGE_TAG:-$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -1)}"
if [ -z "${BUILD_CA_BUNDLE+set}" ] && [ -n "${SSL_CERT_FILE:-}" ] && [ -f "$SSL_CERT_FILE" ]; then
    BUILD_CA_BUNDLE="$SSL_CERT_FILE"
fi

build_args=(-f docker/Dockerfile --build-arg "BASE_IMAGE=$BASE_IMAGE")
if [ "$ENGINE" = podman ]; then
    build_args+=(--ignorefile docker/Dockerfile.dockerignore)
else
    # BuildKit: RUN --mount and build secrets; it reads docker/Dockerfile.dockerignore itself.
    export DOCKER_BUILDKIT=1
fi
if [ -n "${BUILD_CA_BUNDLE:-}" ]; then
    build_args+=(--secret "id=build_ca,src=$BUILD_CA_BUNDLE")
fi

total_start=$SECONDS
if [[ "$BASE_IMAGE" == localhost/* ]] && ! "$ENGINE" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    start=$SECONDS
    BASE_IMAGE="$BASE_IMAGE" bash "$ROOT/scripts/build_base_image.sh"
    log "base $BASE_IMAGE: $((SECONDS - start)) s"
fi

built=()
build() {  # build NAME TARGET [BUILD-ARG...]
    local name="$1" target="$2" image="$IMAGE_REGISTRY/$1:$IMAGE_TAG" start=$SECONDS
    shift 2
    local extra=()
    for arg in "$@"; do extra+=(--build-arg "$arg"); done
    log "building $image (target $target)"
    "$ENGINE" build "${build_args[@]}" --target "$target" "${extra[@]}" -t "$image" .
    log "$image: $((SECONDS - start)) s"
    built+=("$image")
}

for kind in binary multiclass clustering; do
    build "$kind-prediction" prediction "KIND=$kind"
done
build mingo-pipeline pipeline

log "built ${#built[@]} images with $ENGINE in $((SECONDS - total_start)) s"
for image in "${built[@]}"; do
    "$ENGINE" image inspect --format '{{.Size}}' "$image" \
        | awk -v image="$image" '{printf "  %-45s %6.0f MB\n", image, $1 / 1e6}' >&2
done
