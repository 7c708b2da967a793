#!/usr/bin/env bash
# Installs the PostgreSQL server binaries the tests run (they start their own cluster on loopback).
set -euo pipefail
if ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "PostgreSQL server binaries are missing; install the Debian package 'postgresql' (needs root)." >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
