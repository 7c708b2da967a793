#!/usr/bin/env bash
# Installs what `make images` needs on a Debian machine without a working container engine:
# podman and runc (build and run the images) and debootstrap (make the Debian base image
# without an image registry, scripts/build_base_image.sh). Idempotent: installs only what is
# missing. Arguments name a subset (e.g. `debootstrap`); by default all three.
set -euo pipefail
# runc and debootstrap live in /usr/sbin, which a non-login shell may not have on PATH.
export PATH="$PATH:/usr/sbin:/sbin"

wanted=("$@")
[ "${#wanted[@]}" -gt 0 ] || wanted=(podman runc debootstrap)
missing=()
for tool in "${wanted[@]}"; do
    case "$tool" in
        podman | runc | debootstrap) ;;
        *) echo "install_container_tools: unknown tool $tool" >&2; exit 2 ;;
    esac
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "missing: ${missing[*]}; install the Debian packages '${missing[*]}' (needs root)." >&2
    exit 1
fi
apt-get update -qq
# With recommends: podman's network plugins and helpers come with it.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
