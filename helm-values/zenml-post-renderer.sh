#!/usr/bin/env bash
# Helm post-renderer for the ZenML chart: reads the rendered manifests on stdin and adds the
# database password and the secrets-store encryption key from existing Secrets
# (zenml-secret-env.patch.yaml). Needs kubectl (its built-in kustomize). The database-migration
# Job is a Helm hook: Helm sends hooks through post-renderers from 3.21 (and in Helm 4); with an
# older Helm, upgrade Helm first or that Job cannot reach the database.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK_DIR=$(mktemp -d)
trap 'rm -rf "$WORK_DIR"' EXIT
cat > "$WORK_DIR/rendered.yaml"
cp "$HERE/zenml-secret-env.patch.yaml" "$WORK_DIR/"
cat > "$WORK_DIR/kustomization.yaml" <<'KUSTOMIZATION'
resources:
  - rendered.yaml
patches:
  - path: zenml-secret-env.patch.yaml
    target:
      kind: Deployment
      name: zenml
  - path: zenml-secret-env.patch.yaml
    target:
      kind: Job
      name: zenml-db-migration
KUSTOMIZATION
kubectl kustomize "$WORK_DIR"
