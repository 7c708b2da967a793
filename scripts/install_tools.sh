#!/usr/bin/env bash
# Installs helm into the given bin directory (filled in by the Kubernetes issue).
set -euo pipefail
BIN_DIR=${1:?usage: install_tools.sh BIN_DIR}
exit 0
