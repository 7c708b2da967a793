# syntax=docker/dockerfile:1.7
# The pipeline image: what Airflow's KubernetesPodOperator runs in namespace `mingo`
# (`mingo train KIND ...`, `mingo redeploy KIND ...`; the DAGs pass the command, see
# dags/mingo_dags/pod_step.py). It carries the training stack (ZenML, MLflow, scikit-learn),
# installed from uv.lock, and no model: models live in the MLflow registry.
#
# Build from the repository root:
#   docker build -f docker/pipeline.Dockerfile -t REGISTRY/mingo-pipeline:0.1.0 .

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# Same uv as the Makefile, so the lock resolves identically.
RUN pip install --no-cache-dir --disable-pip-version-check "uv==0.13.9"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/mingo/venv
WORKDIR /src
# Dependencies first: this layer is reused until pyproject.toml or uv.lock change.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY mingo ./mingo
COPY zenml_pipelines ./zenml_pipelines
COPY bento_services ./bento_services
RUN uv sync --frozen --no-dev --no-editable

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 mingo \
    && useradd --uid 10001 --gid 10001 --home-dir /home/mingo --create-home --shell /usr/sbin/nologin mingo
COPY --from=build /opt/mingo/venv /opt/mingo/venv
# MinGo keeps its local state (and ZenML's client config, derived from it) under MINGO_HOME:
# /tmp lets the pod run with a read-only root filesystem and an emptyDir on /tmp.
ENV PATH=/opt/mingo/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MINGO_HOME=/tmp/mingo \
    ZENML_ANALYTICS_OPT_IN=false \
    MPLCONFIGDIR=/tmp/matplotlib
USER 10001:10001
WORKDIR /home/mingo
ENTRYPOINT ["mingo"]
CMD ["--help"]
