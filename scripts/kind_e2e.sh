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
#   trigger  generate synthetic data into S3, then three runs of mingo_retrain_binary and a
#            rollback, each checked on the Deployment (annotation mingo.io/model-version) and on
#            what the service answers (`mingo deploy smoke-test --version V`: /predict's
#            model_version):
#              1. first retraining: promoted, served;
#              2. the same data again: NOT promoted (the candidate does not beat the champion by
#                 the margin); the Deployment and the served version stay;
#              3. force_promote: the new version is promoted and served;
#              4. `mingo deploy rollback binary --version <3's>` (the deployer's pod): champion
#                 and Deployment back to run 1's version; run again, it is a no-op.
#   down     delete the cluster
#
# Sized for a laptop (about 4 CPUs and 8 GiB for Docker): ONE PostgreSQL instance holds the
# mlflow, mlflow_auth, airflow and mingo_predictions (the prediction log) databases; every
# component gets small requests (the *_laptop_values functions below, layered over
# helm-values/ without editing it), and the DAGs
# read a copy of dags/mingo_retrain.yaml with small step requests (ConfigMap mingo-dags-laptop,
# MINGO_DAGS_CONFIG). The synthetic data is 2,000 customers.
#
# Credentials are random values generated for this throwaway cluster and written only into
# Kubernetes Secrets (an existing Secret is kept, so `up` can be rerun); none is printed or
# stored on disk. The Secret mlops/mingo-pods plays the secret store for MinGo's own Secrets: the
# prediction chart creates mingo-s3, mingo-mlflow, mingo-zenml, mingo-api and
# mingo-prediction-log (the prediction log's DSN) in namespaces mingo and airflow, and the prediction pods' read-only mingo-s3-reader and mingo-mlflow-reader in
# mingo, from it (secrets.create, values passed through a process substitution). Read-only
# means: MinIO user mingo-reader (policy mingo-artifacts-read of helm-values/minio.yaml) and
# MLflow user mingo-reader with READ on the three registered models and their experiments.
# Airflow's task logs go to MinIO's bucket mingo-airflow-logs with user airflow-logs (Secret
# airflow/airflow-s3-logs, the connection helm-values/airflow.yaml names).
# One value needs a person: the API key of a ZenML service account, which only
# an authenticated ZenML admin can create once the ZenML server runs (helm-values/README.md,
# step 5). `up` stops there and asks for it; rerun as MINGO_ZENML_API_KEY=... scripts/kind_e2e.sh up
set -euo pipefail

CLUSTER=${CLUSTER:-mingo-e2e}
TAG=${TAG:-dev}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KIND_DAGS_PATH=/mingo-dags
KIND_NAME=binary
DAG_ID=mingo_retrain_$KIND_NAME
DATA_URI=s3://mingo-data/e2e/purchases.csv
MINIO_ENDPOINT=http://minio.mlops.svc.cluster.local:9000
MLFLOW_FORWARD_PORT=${MLFLOW_FORWARD_PORT:-15000}
READER="mingo-reader"

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
  local s3_reader_secret s3_logs_secret mlflow_reader pg_predictions
  pg_mlflow=$(random_secret); pg_mlflow_auth=$(random_secret); pg_airflow=$(random_secret)
  s3_secret=$(random_secret); mlflow_admin=$(random_secret); mlflow_mingo=$(random_secret)
  api_key=$(random_secret); s3_reader_secret=$(random_secret); s3_logs_secret=$(random_secret)
  mlflow_reader=$(random_secret); pg_predictions=$(random_secret)
  secret() {
    kubectl -n "$1" get secret "$2" >/dev/null 2>&1 && return
    kubectl -n "$1" create secret generic "$2" "${@:3}" >/dev/null
  }
  secret mlops pg-mlflow --type=kubernetes.io/basic-auth --from-literal=username=mlflow --from-literal=password="$pg_mlflow"
  secret mlops pg-mlflow-auth --type=kubernetes.io/basic-auth --from-literal=username=mlflow_auth --from-literal=password="$pg_mlflow_auth"
  secret mlops pg-airflow --type=kubernetes.io/basic-auth --from-literal=username=airflow --from-literal=password="$pg_airflow"
  secret mlops pg-mingo-predictions --type=kubernetes.io/basic-auth --from-literal=username=mingo_predictions --from-literal=password="$pg_predictions"
  secret mlops zenml-mariadb-root --from-literal=password="$(random_secret)"
  secret mlops zenml-database --from-literal=password="$(random_secret)"
  secret mlops zenml-server --from-literal=encryption-key="$(openssl rand -hex 32)"
  secret mlops minio-root --from-literal=rootUser=minio-admin --from-literal=rootPassword="$(random_secret)"
  secret mlops minio-mingo-user --from-literal=secretKey="$s3_secret"
  secret mlops minio-mingo-reader --from-literal=secretKey="$s3_reader_secret"
  secret mlops minio-airflow-logs --from-literal=secretKey="$s3_logs_secret"
  secret mlops mlflow-admin --from-literal=username=admin --from-literal=password="$mlflow_admin"
  secret mlops mingo-s3 --from-literal=access-key-id=mingo --from-literal=secret-access-key="$s3_secret"
  secret mlops mingo-s3-reader --from-literal=access-key-id="$READER" --from-literal=secret-access-key="$s3_reader_secret"
  secret airflow airflow-metadata --from-literal=connection="postgresql://airflow:$pg_airflow@mingo-pg-rw.mlops.svc.cluster.local:5432/airflow"
  secret airflow airflow-fernet-key --from-literal=fernet-key="$(openssl rand -base64 32 | tr '+/' '-_')"
  secret airflow airflow-api-secret-key --from-literal=api-secret-key="$(random_secret)"
  secret airflow airflow-jwt-secret --from-literal=jwt-secret="$(random_secret)"
  # Airflow's remote task logs: an `aws` connection to MinIO (JSON form of AIRFLOW_CONN_*).
  secret airflow airflow-s3-logs --from-literal=connection="$(printf \
    '{"conn_type": "aws", "login": "airflow-logs", "password": "%s", "extra": {"endpoint_url": "%s", "region_name": "us-east-1"}}' \
    "$s3_logs_secret" "$MINIO_ENDPOINT")"
  secret mlops mingo-pods --from-literal=mlflow-password="$mlflow_mingo" --from-literal=api-key="$api_key" \
    --from-literal=mlflow-reader-password="$mlflow_reader"
}

secret_value() {  # namespace secret key
  kubectl -n "$1" get secret "$2" -o "jsonpath={.data.$3}" | base64 -d
}

# --- laptop sizing: layered over helm-values/ (later -f files win; lists are replaced whole) ---

postgresql_laptop_values() {  # ONE instance (no replicas) for all the databases
  cat <<'YAML'
cluster:
  instances: 1
  storage: {size: 2Gi}
  resources:
    requests: {cpu: 100m, memory: 256Mi}
    limits: {memory: 512Mi}
YAML
}

minio_laptop_values() {
  cat <<'YAML'
persistence: {size: 5Gi}
resources:
  requests: {cpu: 100m, memory: 256Mi}
YAML
}

mlflow_laptop_values() {
  cat <<'YAML'
resources:
  requests: {cpu: 100m, memory: 384Mi}
  limits: {memory: 1Gi}
YAML
}

zenml_laptop_values() {
  cat <<'YAML'
resources:
  requests: {cpu: 100m, memory: 256Mi}
  limits: {memory: 768Mi}
YAML
}

zenml_database_laptop() {  # helm-values/zenml-database.yaml with a small disk and requests
  sed -e 's/^    size: 10Gi$/    size: 2Gi/' \
      -e 's/^      cpu: 250m$/      cpu: 100m/' \
      -e 's/^      memory: 512Mi$/      memory: 256Mi/' \
      "$ROOT/helm-values/zenml-database.yaml"
}

airflow_laptop_values() {  # small requests; the DAGs read the laptop copy of mingo_retrain.yaml
  local small='{requests: {cpu: 100m, memory: 512Mi}, limits: {memory: 1536Mi}}'
  local volume='[{name: mingo-dags-laptop, configMap: {name: mingo-dags-laptop}}]'
  local mount='[{name: mingo-dags-laptop, mountPath: /opt/mingo-dags-config, readOnly: true}]'
  cat <<YAML
env:
  - {name: MINGO_RUNNER, value: kubernetes}
  - {name: MINGO_PIPELINE_IMAGE, value: "localhost/mingo-pipeline:$TAG"}
  - {name: MINGO_DAGS_CONFIG, value: /opt/mingo-dags-config/mingo_retrain.yaml}
scheduler: {resources: $small, extraVolumes: $volume, extraVolumeMounts: $mount}
dagProcessor: {resources: $small, extraVolumes: $volume, extraVolumeMounts: $mount}
workers: {resources: $small, extraVolumes: $volume, extraVolumeMounts: $mount}
apiServer: {resources: $small}
triggerer: {resources: $small, persistence: {enabled: false}}
YAML
}

dags_laptop_config() {  # dags/mingo_retrain.yaml with laptop-sized step and training requests
  docker run --rm -i --entrypoint python "localhost/mingo-pipeline:$TAG" -c '
import sys, yaml
config = yaml.safe_load(sys.stdin)
config["kubernetes"]["step_resources"] = {
    "requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
for model in config["models"].values():
    model["train_resources"] = {
        "requests": {"cpu": "250m", "memory": "768Mi"}, "limits": {"cpu": "2", "memory": "3Gi"}}
yaml.safe_dump(config, sys.stdout, sort_keys=False)
' < "$ROOT/dags/mingo_retrain.yaml"
}

# --- MLflow's REST API through a port-forward; credentials on stdin, never on a command line ---

MLFLOW_FORWARD_PID=
start_mlflow_forward() {
  kubectl -n mlops port-forward svc/mlflow "$MLFLOW_FORWARD_PORT:5000" >/dev/null 2>&1 &
  MLFLOW_FORWARD_PID=$!
  local _
  for _ in $(seq 1 30); do
    curl -fsS -o /dev/null "http://127.0.0.1:$MLFLOW_FORWARD_PORT/health" 2>/dev/null && return
    sleep 1
  done
  die "no answer from MLflow through the port-forward on $MLFLOW_FORWARD_PORT"
}

stop_mlflow_forward() {
  [[ -n "$MLFLOW_FORWARD_PID" ]] && kill "$MLFLOW_FORWARD_PID" 2>/dev/null
  MLFLOW_FORWARD_PID=
}

mlflow_api() {  # user password METHOD PATH [JSON]: prints the answer; fails on an HTTP error
  local user=$1 password=$2 method=$3 path=$4 body=${5:-}
  local args=(-fsS -K - -X "$method" "http://127.0.0.1:$MLFLOW_FORWARD_PORT$path"
              -H 'Content-Type: application/json')
  [[ -n "$body" ]] && args+=(-d "$body")
  printf 'user = "%s:%s"\n' "$user" "$password" | curl "${args[@]}"
}

experiment_id() {  # admin password NAME: the id of experiment NAME, created when missing
  local answer
  answer=$(mlflow_api admin "$1" POST /api/2.0/mlflow/experiments/create "{\"name\": \"$2\"}" 2>/dev/null) \
    || answer=$(mlflow_api admin "$1" GET "/api/2.0/mlflow/experiments/get-by-name?experiment_name=$2")
  printf '%s' "$answer" | grep -o '"experiment_id": *"[0-9]*"' | grep -o '[0-9][0-9]*' | head -1
}

create_mlflow_users() {
  log "MLflow users: 'mingo' (admin, for this throwaway cluster) and '$READER' (READ on MinGo's models)"
  local admin mingo reader kind experiment
  admin=$(secret_value mlops mlflow-admin password)
  mingo=$(secret_value mlops mingo-pods mlflow-password)
  reader=$(secret_value mlops mingo-pods mlflow-reader-password)
  start_mlflow_forward
  mlflow_api admin "$admin" POST /api/2.0/mlflow/users/create \
    "{\"username\": \"mingo\", \"password\": \"$mingo\"}" >/dev/null \
    || log "MLflow user 'mingo' not created (it may exist from an earlier run)"
  mlflow_api admin "$admin" PATCH /api/2.0/mlflow/users/update-admin \
    '{"username": "mingo", "is_admin": true}' >/dev/null
  mlflow_api admin "$admin" POST /api/2.0/mlflow/users/create \
    "{\"username\": \"$READER\", \"password\": \"$reader\"}" >/dev/null \
    || log "MLflow user '$READER' not created (it may exist from an earlier run)"
  # READ, before the first training: on the registered models by name (a grant needs no model
  # yet) and on their experiments (created here, named like the models, as `mingo train` would:
  # loading a model version reads its logged model, which the experiment's permission guards).
  for kind in binary multiclass clustering; do
    experiment=$(experiment_id "$admin" "mingo-$kind")
    [[ -n "$experiment" ]] || die "no experiment id for mingo-$kind"
    mlflow_api admin "$admin" POST /api/3.0/mlflow/users/permissions/grant \
      "{\"username\": \"$READER\", \"resource_type\": \"registered_model\", \"resource_id\": \"mingo-$kind\", \"permission\": \"READ\"}" \
      >/dev/null || log "READ on model mingo-$kind not granted (it may exist from an earlier run)"
    mlflow_api admin "$admin" POST /api/3.0/mlflow/users/permissions/grant \
      "{\"username\": \"$READER\", \"resource_type\": \"experiment\", \"resource_id\": \"$experiment\", \"permission\": \"READ\"}" \
      >/dev/null || log "READ on experiment mingo-$kind not granted (it may exist from an earlier run)"
  done
  stop_mlflow_forward
}

install_platform() {
  log "platform: PostgreSQL (one instance), MariaDB, MinIO, MLflow, ZenML (helm-values/ + laptop sizes)"
  helm repo add cnpg https://cloudnative-pg.github.io/charts >/dev/null
  helm repo add mariadb-operator https://helm.mariadb.com/mariadb-operator >/dev/null
  helm repo add minio https://charts.min.io/ >/dev/null
  helm repo add community-charts https://community-charts.github.io/helm-charts >/dev/null
  helm repo add apache-airflow https://airflow.apache.org >/dev/null
  helm repo update >/dev/null
  helm upgrade --install cnpg cnpg/cloudnative-pg -n cnpg-system --create-namespace --wait
  helm upgrade --install mingo-pg cnpg/cluster -n mlops -f "$ROOT/helm-values/postgresql.yaml" \
    -f <(postgresql_laptop_values) --wait
  helm upgrade --install mariadb-operator-crds mariadb-operator/mariadb-operator-crds -n mariadb-system --create-namespace
  helm upgrade --install mariadb-operator mariadb-operator/mariadb-operator -n mariadb-system --wait
  zenml_database_laptop | kubectl apply -n mlops -f -
  kubectl -n mlops wait --for=condition=Ready mariadb/zenml-mariadb --timeout=10m
  helm upgrade --install minio minio/minio -n mlops -f "$ROOT/helm-values/minio.yaml" \
    -f <(minio_laptop_values) --wait
  helm upgrade --install mlflow community-charts/mlflow -n mlops -f "$ROOT/helm-values/mlflow.yaml" \
    -f <(mlflow_laptop_values) --wait
  create_mlflow_users
  helm upgrade --install zenml oci://public.ecr.aws/zenml/zenml --version 0.98.0 -n mlops \
    -f "$ROOT/helm-values/zenml.yaml" -f <(zenml_laptop_values) \
    --post-renderer "$ROOT/helm-values/zenml-post-renderer.sh" --wait
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
  kubectl -n airflow create configmap mingo-dags-laptop \
    --from-file=mingo_retrain.yaml=<(dags_laptop_config) --dry-run=client -o yaml | kubectl apply -f -
  helm upgrade --install airflow apache-airflow/airflow -n airflow \
    -f "$ROOT/helm-values/airflow.yaml" -f <(airflow_laptop_values) \
    --set dags.gitSync.enabled=false \
    --set dags.persistence.enabled=true \
    --set dags.persistence.existingClaim=mingo-dags \
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
    mingo-s3-reader:
      access-key-id: "$(secret_value mlops mingo-s3-reader access-key-id)"
      secret-access-key: "$(secret_value mlops mingo-s3-reader secret-access-key)"
    mingo-mlflow-reader:
      username: $READER
      password: "$(secret_value mlops mingo-pods mlflow-reader-password)"
    mingo-api:
      api-key: "$(secret_value mlops mingo-pods api-key)"
    mingo-zenml:
      api-key: "$(secret_value mlops mingo-pods zenml-api-key)"
    mingo-prediction-log:
      uri: "postgresql://mingo_predictions:$(secret_value mlops pg-mingo-predictions password)@mingo-pg-rw.mlops.svc.cluster.local:5432/mingo_predictions"
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

# --- the end-to-end checks --------------------------------------------------------------------

# The chart's service accounts (values.yaml serviceAccounts): no Kubernetes rights / may roll the
# prediction Deployments.
TRAINER="mingo-trainer"
DEPLOYER="mingo-deployer"

mingo_pod() {  # SERVICE_ACCOUNT COMMAND [ARG...]: run it in a pipeline pod in `mingo`, print its output
  # Labelled as the DAG's step pods (the NetworkPolicy lets those call the prediction services);
  # only the deployer gets its service account token (it patches the Deployment).
  local account=$1 args_json='' arg name automount=false
  shift
  for arg in "$@"; do args_json+="${args_json:+, }\"$arg\""; done
  [[ "$account" == "$DEPLOYER" ]] && automount=true
  name="mingo-e2e-$(date +%s)-$RANDOM"
  kubectl -n mingo run "$name" --rm -i --restart=Never --quiet \
    --labels=app.kubernetes.io/part-of=mingo,app.kubernetes.io/component=retraining \
    --image="localhost/mingo-pipeline:$TAG" --image-pull-policy=Never --overrides='{
      "spec": {"serviceAccountName": "'"$account"'", "automountServiceAccountToken": '"$automount"',
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
        "name": "'"$name"'", "image": "localhost/mingo-pipeline:'"$TAG"'", "imagePullPolicy": "Never",
        "command": ['"$args_json"'],
        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
        "envFrom": [{"configMapRef": {"name": "mingo-config"}}],
        "env": [
          {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "mingo-s3", "key": "access-key-id"}}},
          {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {"name": "mingo-s3", "key": "secret-access-key"}}},
          {"name": "MLFLOW_TRACKING_USERNAME", "valueFrom": {"secretKeyRef": {"name": "mingo-mlflow", "key": "username"}}},
          {"name": "MLFLOW_TRACKING_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "mingo-mlflow", "key": "password"}}},
          {"name": "MINGO_API_KEY", "valueFrom": {"secretKeyRef": {"name": "mingo-api", "key": "api-key"}}}
        ]}]}}'
}

registry_versions() {  # prints "CHAMPION LATEST" of mingo-$KIND_NAME, from the registry
  mingo_pod "$TRAINER" python -c "from mingo.config import load_settings; from mingo.tracking import mlflow_client; from mingo.registry import model_status; s = model_status(mlflow_client(load_settings()), '$KIND_NAME'); print(s.champion.version if s.champion else '-', s.latest.version if s.latest else '-')" \
    | tail -1
}

deployed_version() {  # the model version the Deployment's pod template names
  kubectl -n mingo get "deploy/$KIND_NAME-prediction" \
    -o 'jsonpath={.spec.template.metadata.annotations.mingo\.io/model-version}'
}

expect_served() {  # VERSION: the Deployment names it, rolled out, and /predict answers with it
  local version=$1 annotation
  annotation=$(deployed_version)
  [[ "$annotation" == "$version" ]] \
    || die "deploy/$KIND_NAME-prediction names model version '$annotation', expected '$version'"
  kubectl -n mingo rollout status "deploy/$KIND_NAME-prediction" --timeout=5m
  mingo_pod "$TRAINER" mingo deploy smoke-test "$KIND_NAME" --version "$version" \
    || die "$KIND_NAME-prediction does not serve model_version $version"
  log "served: mingo-$KIND_NAME version $version (annotation and /predict agree)"
}

run_dag() {  # RUN_ID CONF_JSON: trigger the DAG and wait; fails unless the run succeeded
  local run_id=$1 conf=$2 scheduler=deploy/airflow-scheduler state='' _
  log "trigger $DAG_ID run $run_id with $conf"
  kubectl -n airflow exec "$scheduler" -- airflow dags trigger "$DAG_ID" --run-id "$run_id" --conf "$conf" >/dev/null
  for _ in $(seq 1 180); do
    state=$(kubectl -n airflow exec "$scheduler" -- airflow dags list-runs "$DAG_ID" -o plain 2>/dev/null \
      | awk -v id="$run_id" '$2 == id {print $3}')
    [[ "$state" == success || "$state" == failed ]] && break
    sleep 10
  done
  log "run $run_id: ${state:-unknown}"
  [[ "$state" == success ]] || die "the DAG run did not succeed; see the Airflow UI (task logs are in s3://mingo-airflow-logs) or 'kubectl -n mingo get pods' (failed step pods are kept)"
}

trigger_dag() {
  log "synthetic purchases -> $DATA_URI"
  mingo_pod "$TRAINER" mingo data generate --customers 2000 --seed 1 --out "$DATA_URI"
  local scheduler=deploy/airflow-scheduler stamp first second third champion latest output
  kubectl -n airflow exec "$scheduler" -- airflow dags reserialize >/dev/null
  kubectl -n airflow exec "$scheduler" -- airflow dags unpause "$DAG_ID" >/dev/null
  stamp=$(date +%s)

  # 1. First retraining: promoted and served.
  run_dag "kind-e2e-$stamp-1" "{\"data_uri\": \"$DATA_URI\"}"
  read -r champion latest < <(registry_versions)
  [[ "$champion" != - && "$champion" == "$latest" ]] \
    || die "run 1 should have promoted its candidate: champion $champion, latest $latest"
  first=$champion
  expect_served "$first"

  # 2. The same data again: a new version, not promoted; nothing moves.
  run_dag "kind-e2e-$stamp-2" "{\"data_uri\": \"$DATA_URI\"}"
  read -r champion latest < <(registry_versions)
  [[ "$champion" == "$first" && "$latest" != "$first" ]] \
    || die "run 2 must not promote: champion $champion (expected $first), latest $latest"
  second=$latest
  expect_served "$first"
  log "not promoted: version $second registered, champion stays $first"

  # 3. Forced promotion: a third version, promoted and served.
  run_dag "kind-e2e-$stamp-3" "{\"data_uri\": \"$DATA_URI\", \"force_promote\": true}"
  read -r champion latest < <(registry_versions)
  [[ "$champion" == "$latest" && "$champion" != "$first" && "$champion" != "$second" ]] \
    || die "run 3 (force_promote) should have promoted its candidate: champion $champion, latest $latest"
  third=$champion
  expect_served "$third"

  # 4. Rollback of exactly that version, by the deployer's identity: back to run 1's version.
  output=$(mingo_pod "$DEPLOYER" mingo deploy rollback "$KIND_NAME" --version "$third") \
    || die "mingo deploy rollback $KIND_NAME --version $third failed: $output"
  printf '%s\n' "$output"
  read -r champion latest < <(registry_versions)
  [[ "$champion" == "$first" ]] || die "after the rollback the champion is $champion, expected $first"
  expect_served "$first"
  # A second run of the same rollback is a no-op: nothing moves.
  mingo_pod "$DEPLOYER" mingo deploy rollback "$KIND_NAME" --version "$third" >/dev/null \
    || die "a second rollback of version $third failed instead of doing nothing"
  read -r champion latest < <(registry_versions)
  [[ "$champion" == "$first" ]] || die "the second rollback moved the champion to $champion"
  expect_served "$first"
  log "end to end: promoted $first, not promoted $second, promoted $third, rolled back to $first"
}

main() {
  trap stop_mlflow_forward EXIT
  case "${1:-all}" in
    up) require_tools; create_cluster; build_and_load_images; create_secrets; install_platform; install_airflow; install_prediction_chart ;;
    trigger) trigger_dag ;;
    down) kind delete cluster --name "$CLUSTER" ;;
    all) "$0" up && "$0" trigger ;;
    *) die "usage: $0 [up|trigger|down]" ;;
  esac
}

main "$@"
