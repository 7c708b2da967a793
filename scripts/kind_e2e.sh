#!/usr/bin/env bash
# End-to-end on a local kind cluster: the platform, MinGo's prediction chart, one retraining DAG.
#
# NOT RUN BY THE TEST SUITE, AND NEVER RUN ON THE PROJECT'S OWN MACHINES: they have no Docker
# engine, so no kind cluster can start there. What the suite checks offline instead: the DAG
# pods against the Kubernetes 1.33 schemas (tests/dags/test_pods.py), the redeploy logic against
# an emulated API server (tests/deploy/), the chart with helm template + kubernetes-validate
# (tests/k8s/). This script strings together the steps of helm-values/README.md and
# docker/README.md for someone with Docker; expect to adjust chart versions when upstream moves.
#
# Needs: docker (with a running engine), kind, kubectl, helm 3.21+ (or 4), openssl, curl, make.
# The four images are built from uv.lock with `make images CONTAINER_ENGINE=docker` (docker/README.md)
# and loaded into the node with `kind load docker-image`.
#
# Usage: scripts/kind_e2e.sh [up|trigger|down]     (default: up, then trigger)
#   up       create the cluster `mingo-e2e`, build and load the images, install everything
#   trigger  generate synthetic data into S3, trigger mingo_retrain_binary, wait for the run,
#            check binary-prediction rolled to the champion and answers /predict
#   down     delete the cluster
#
# Credentials are random values generated for this throwaway cluster and written only into
# Kubernetes Secrets (an existing Secret is kept, so `up` can be rerun); none is printed or
# stored on disk. The Secret mlops/mingo-pods plays the secret store for MinGo's own Secrets: the
# prediction chart creates mingo-s3, mingo-mlflow, mingo-zenml and mingo-api in namespaces mingo
# and airflow from it (secrets.create, values passed through a process substitution). One value needs a person: the API key of a ZenML service account, which only
# an authenticated ZenML admin can create once the ZenML server runs (helm-values/README.md,
# step 5). `up` stops there and asks for it; rerun as MINGO_ZENML_API_KEY=... scripts/kind_e2e.sh up
set -euo pipefail

CLUSTER=${CLUSTER:-mingo-e2e}
TAG=${TAG:-dev}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KIND_DAGS_PATH=/mingo-dags
DAG_ID=mingo_retrain_binary
DATA_URI=s3://mingo-data/e2e/purchases.csv

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
random_secret() { openssl rand -hex 24; }

require_tools() {
  local tool
  for tool in docker kind kubectl helm openssl curl make; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
  done
  docker info >/dev/null 2>&1 || die "no Docker engine is running (kind needs one)"
}

create_cluster() {
  log "kind cluster $CLUSTER (dags/ mounted into the node for Airflow)"
  if kind get clusters | grep -qx "$CLUSTER"; then
    return
  fi
  kind create cluster --name "$CLUSTER" --wait 120s --config - <<KIND
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
    extraMounts:
      - hostPath: $ROOT/dags
        containerPath: $KIND_DAGS_PATH
        readOnly: true
KIND
}

IMAGES=(mingo-pipeline binary-prediction multiclass-prediction clustering-prediction)

build_and_load_images() {
  log "images: ${IMAGES[*]} (localhost/<name>:$TAG, make images with docker)"
  make -C "$ROOT" images CONTAINER_ENGINE=docker IMAGE_REGISTRY=localhost IMAGE_TAG="$TAG"
  local name
  for name in "${IMAGES[@]}"; do
    kind load docker-image --name "$CLUSTER" "localhost/$name:$TAG"
  done
}

create_secrets() {
  log "namespaces and Secrets (random values for this cluster only)"
  local ns
  for ns in mlops airflow mingo; do
    kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f -
  done
  local pg_mlflow pg_mlflow_auth pg_airflow s3_secret mlflow_admin mlflow_mingo api_key
  pg_mlflow=$(random_secret); pg_mlflow_auth=$(random_secret); pg_airflow=$(random_secret)
  s3_secret=$(random_secret); mlflow_admin=$(random_secret); mlflow_mingo=$(random_secret)
  api_key=$(random_secret)
  secret() {
    kubectl -n "$1" get secret "$2" >/dev/null 2>&1 && return
    kubectl -n "$1" create secret generic "$2" "${@:3}" >/dev/null
  }
  secret mlops pg-mlflow --type=kubernetes.io/basic-auth --from-literal=username=mlflow --from-literal=password="$pg_mlflow"
  secret mlops pg-mlflow-auth --type=kubernetes.io/basic-auth --from-literal=username=mlflow_auth --from-literal=password="$pg_mlflow_auth"
  secret mlops pg-airflow --type=kubernetes.io/basic-auth --from-literal=username=airflow --from-literal=password="$pg_airflow"
  secret mlops zenml-mariadb-root --from-literal=password="$(random_secret)"
  secret mlops zenml-database --from-literal=password="$(random_secret)"
  secret mlops zenml-server --from-literal=encryption-key="$(openssl rand -hex 32)"
  secret mlops minio-root --from-literal=rootUser=minio-admin --from-literal=rootPassword="$(random_secret)"
  secret mlops minio-mingo-user --from-literal=secretKey="$s3_secret"
  secret mlops mlflow-admin --from-literal=username=admin --from-literal=password="$mlflow_admin"
  secret mlops mingo-s3 --from-literal=access-key-id=mingo --from-literal=secret-access-key="$s3_secret"
  secret airflow airflow-metadata --from-literal=connection="postgresql://airflow:$pg_airflow@mingo-pg-rw.mlops.svc.cluster.local:5432/airflow"
  secret airflow airflow-fernet-key --from-literal=fernet-key="$(openssl rand -base64 32 | tr '+/' '-_')"
  secret airflow airflow-api-secret-key --from-literal=api-secret-key="$(random_secret)"
  secret airflow airflow-jwt-secret --from-literal=jwt-secret="$(random_secret)"
  secret mlops mingo-pods --from-literal=mlflow-password="$mlflow_mingo" --from-literal=api-key="$api_key"
}

secret_value() {  # namespace secret key
  kubectl -n "$1" get secret "$2" -o "jsonpath={.data.$3}" | base64 -d
}

install_platform() {
  log "platform: PostgreSQL, MariaDB, MinIO, MLflow, ZenML (helm-values/)"
  helm repo add cnpg https://cloudnative-pg.github.io/charts >/dev/null
  helm repo add mariadb-operator https://helm.mariadb.com/mariadb-operator >/dev/null
  helm repo add minio https://charts.min.io/ >/dev/null
  helm repo add community-charts https://community-charts.github.io/helm-charts >/dev/null
  helm repo add apache-airflow https://airflow.apache.org >/dev/null
  helm repo update >/dev/null
  helm upgrade --install cnpg cnpg/cloudnative-pg -n cnpg-system --create-namespace --wait
  helm upgrade --install mingo-pg cnpg/cluster -n mlops -f "$ROOT/helm-values/postgresql.yaml" --wait
  helm upgrade --install mariadb-operator-crds mariadb-operator/mariadb-operator-crds -n mariadb-system --create-namespace
  helm upgrade --install mariadb-operator mariadb-operator/mariadb-operator -n mariadb-system --wait
  kubectl apply -n mlops -f "$ROOT/helm-values/zenml-database.yaml"
  kubectl -n mlops wait --for=condition=Ready mariadb/zenml-mariadb --timeout=10m
  helm upgrade --install minio minio/minio -n mlops -f "$ROOT/helm-values/minio.yaml" --wait
  helm upgrade --install mlflow community-charts/mlflow -n mlops -f "$ROOT/helm-values/mlflow.yaml" --wait
  log "MLflow user 'mingo' (admin, for this throwaway cluster)"
  local MLFLOW_ADMIN_PASSWORD MLFLOW_MINGO_PASSWORD
  MLFLOW_ADMIN_PASSWORD=$(secret_value mlops mlflow-admin password)
  MLFLOW_MINGO_PASSWORD=$(secret_value mlops mingo-pods mlflow-password)
  kubectl -n mlops port-forward svc/mlflow 15000:5000 >/dev/null 2>&1 &
  local forward_pid=$!
  sleep 3
  curl -fsS -u "admin:$MLFLOW_ADMIN_PASSWORD" -X POST http://127.0.0.1:15000/api/2.0/mlflow/users/create \
    -H 'Content-Type: application/json' \
    -d "{\"username\": \"mingo\", \"password\": \"$MLFLOW_MINGO_PASSWORD\"}" >/dev/null \
    || log "MLflow user 'mingo' not created (it may exist from an earlier run)"
  curl -fsS -u "admin:$MLFLOW_ADMIN_PASSWORD" -X PATCH http://127.0.0.1:15000/api/2.0/mlflow/users/update-admin \
    -H 'Content-Type: application/json' -d '{"username": "mingo", "is_admin": true}' >/dev/null
  kill "$forward_pid"
  helm upgrade --install zenml oci://public.ecr.aws/zenml/zenml --version 0.98.0 -n mlops \
    -f "$ROOT/helm-values/zenml.yaml" --post-renderer "$ROOT/helm-values/zenml-post-renderer.sh" --wait
  log "ZenML service account key -> Secret mlops/mingo-pods (zenml-api-key)"
  if [[ -z "$(kubectl -n mlops get secret mingo-pods -o 'jsonpath={.data.zenml-api-key}')" ]]; then
    [[ -n "${MINGO_ZENML_API_KEY:-}" ]] || die "the ZenML server is up: create a service account
  (kubectl -n mlops port-forward svc/zenml 8080:8080; zenml login http://127.0.0.1:8080;
  zenml service-account create mingo-pipelines) and rerun with MINGO_ZENML_API_KEY=<its key>"
    kubectl -n mlops patch secret mingo-pods --type merge \
      -p "{\"stringData\": {\"zenml-api-key\": \"$MINGO_ZENML_API_KEY\"}}" >/dev/null
  fi
}

install_airflow() {
  log "Airflow (KubernetesExecutor), DAGs from this checkout via the kind node mount"
  kubectl apply -f - <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: {name: mingo-dags}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadOnlyMany]
  storageClassName: mingo-dags
  hostPath: {path: $KIND_DAGS_PATH}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: mingo-dags, namespace: airflow}
spec:
  accessModes: [ReadOnlyMany]
  storageClassName: mingo-dags
  volumeName: mingo-dags
  resources: {requests: {storage: 1Gi}}
YAML
  helm upgrade --install airflow apache-airflow/airflow -n airflow \
    -f "$ROOT/helm-values/airflow.yaml" \
    --set dags.gitSync.enabled=false \
    --set dags.persistence.enabled=true \
    --set dags.persistence.existingClaim=mingo-dags \
    --set "env[0].name=MINGO_RUNNER" --set "env[0].value=kubernetes" \
    --set "env[1].name=MINGO_PIPELINE_IMAGE" --set "env[1].value=localhost/mingo-pipeline:$TAG" \
    --wait --timeout 15m
}

chart_secret_values() {  # the chart's secrets.data, from the cluster's stand-in secret store
  cat <<YAML
secrets:
  create: true
  data:
    mingo-s3:
      access-key-id: "$(secret_value mlops mingo-s3 access-key-id)"
      secret-access-key: "$(secret_value mlops mingo-s3 secret-access-key)"
    mingo-mlflow:
      username: mingo
      password: "$(secret_value mlops mingo-pods mlflow-password)"
    mingo-api:
      api-key: "$(secret_value mlops mingo-pods api-key)"
    mingo-zenml:
      api-key: "$(secret_value mlops mingo-pods zenml-api-key)"
YAML
}

install_prediction_chart() {
  log "MinGo's prediction chart (kind values; mingo-config and mingo-* Secrets in mingo and airflow)"
  helm upgrade --install mingo-prediction "$ROOT/charts/mingo-prediction" -n mingo \
    -f "$ROOT/charts/mingo-prediction/values-kind.yaml" -f <(chart_secret_values) \
    --set image.registry=localhost --set "predictionServices.binary.image.tag=$TAG" \
    --set "predictionServices.multiclass.image.tag=$TAG" --set "predictionServices.clustering.image.tag=$TAG"
  # Not --wait: a prediction pod is ready only once a champion exists, which the DAG creates.
}

trigger_dag() {
  log "synthetic purchases -> $DATA_URI"
  kubectl -n mingo run mingo-generate --rm -i --restart=Never --image="localhost/mingo-pipeline:$TAG" \
    --image-pull-policy=Never --overrides='{
      "spec": {"serviceAccountName": "mingo-pipeline", "containers": [{
        "name": "mingo-generate", "image": "localhost/mingo-pipeline:'"$TAG"'", "imagePullPolicy": "Never",
        "args": ["data", "generate", "--customers", "2000", "--seed", "1", "--out", "'"$DATA_URI"'"],
        "envFrom": [{"configMapRef": {"name": "mingo-config"}}],
        "env": [
          {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "mingo-s3", "key": "access-key-id"}}},
          {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "mingo-s3", "key": "secret-access-key"}}}
        ]}]}}'
  log "trigger $DAG_ID"
  local scheduler=deploy/airflow-scheduler run_id state
  kubectl -n airflow exec "$scheduler" -- airflow dags reserialize >/dev/null
  kubectl -n airflow exec "$scheduler" -- airflow dags unpause "$DAG_ID" >/dev/null
  run_id="kind-e2e-$(date +%s)"
  kubectl -n airflow exec "$scheduler" -- airflow dags trigger "$DAG_ID" --run-id "$run_id" \
    --conf "{\"data_uri\": \"$DATA_URI\"}"
  for _ in $(seq 1 180); do
    state=$(kubectl -n airflow exec "$scheduler" -- airflow dags list-runs "$DAG_ID" -o plain 2>/dev/null \
      | awk -v id="$run_id" '$2 == id {print $3}')
    [[ "$state" == success || "$state" == failed ]] && break
    sleep 10
  done
  log "run $run_id: ${state:-unknown}"
  [[ "$state" == success ]] || die "the DAG run did not succeed; see the Airflow UI or 'kubectl -n mingo get pods' (failed step pods are kept)"
  kubectl -n mingo rollout status deploy/binary-prediction --timeout=5m
  kubectl -n mingo get deploy binary-prediction \
    -o jsonpath='{.spec.template.metadata.annotations.mingo\.io/champion-version}{"\n"}'
}

main() {
  case "${1:-all}" in
    up) require_tools; create_cluster; build_and_load_images; create_secrets; install_platform; install_airflow; install_prediction_chart ;;
    trigger) trigger_dag ;;
    down) kind delete cluster --name "$CLUSTER" ;;
    all) "$0" up && "$0" trigger ;;
    *) die "usage: $0 [up|trigger|down]" ;;
  esac
}

main "$@"
