# MinGo. Two commands matter: `make demo` and `make test`. Everything installs from uv.lock.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed

.PHONY: install tools system-deps zenml-server-env demo airflow test lint bench images clean help

help:
	@echo "make demo   - set up and run the embedded end-to-end demo"
	@echo "make test   - set up and run the whole test suite (starts PostgreSQL and an S3 server)"
	@echo "make airflow - Airflow 3 (UI, scheduler) running the DAGs on the embedded stack"
	@echo "make lint   - ruff + mypy"
	@echo "make bench  - benchmarks (full ClickBus scale; slow)"
	@echo "make images - build the pipeline image and the three prediction images (podman or docker)"

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "uv==0.13.9"

# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set (these machines and
# CI), every process (each Airflow task, service and `mingo` command) would otherwise compile
# its imports from source again; a small `mingo train` took 19 s instead of 12.
$(STAMP): $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --extra pipeline --compile-bytecode --python $(BIN)/python
	touch $(STAMP)

install: $(STAMP)

# Binaries the Python packages do not carry (helm), installed into .venv/bin.
tools: install
	bash scripts/install_tools.sh $(BIN)

# Debian packages for the tests: PostgreSQL, MariaDB, Chromium + WebDriver (the tests start
# their own servers and browser).
system-deps:
	bash scripts/install_system_deps.sh

# The ZenML server the tests start runs from its own virtualenv: `zenml[server]` and Airflow 3.3
# cannot share one (their fastapi ranges do not overlap). Locked in scripts/zenml-server-env.
ZENML_SERVER_VENV := .venv-zenml-server
ZENML_SERVER_PROJECT := scripts/zenml-server-env
$(ZENML_SERVER_VENV)/.installed: $(UV) $(ZENML_SERVER_PROJECT)/uv.lock $(ZENML_SERVER_PROJECT)/pyproject.toml
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(ZENML_SERVER_VENV) $(UV) sync --frozen --no-install-project \
		--compile-bytecode --project $(ZENML_SERVER_PROJECT) --python $(PYTHON)
	touch $@

zenml-server-env: $(ZENML_SERVER_VENV)/.installed

demo: install
	$(BIN)/mingo demo

# Airflow's API server + UI, scheduler, DAG processor and triggerer with the DAGs of dags/ on the
# embedded MinGo stack; Ctrl-C stops every process it started.
airflow: install system-deps
	$(BIN)/mingo airflow

# Two workers (the CI machine's cores; three loaded them past the services' start timeouts).
# Each test module, and each long unit of tests/conftest.py, stays on one worker
# (tests/conftest.py). TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
test: install tools system-deps zenml-server-env
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/python -m benchmarks

# The four container images from uv.lock (docker/README.md). Needs no venv. Settings, from the
# command line or the environment: CONTAINER_ENGINE (podman, or docker when it runs and podman
# is absent), BASE_IMAGE (default: a Debian bookworm + python3.11 base made here by
# scripts/build_base_image.sh; python:3.11.14-slim-bookworm where a registry is reachable),
# IMAGE_REGISTRY (localhost), IMAGE_TAG (the project version), BUILD_CA_BUNDLE.
images:
	bash docker/build_images.sh

clean:
	rm -rf $(VENV) $(ZENML_SERVER_VENV) .mingo .pytest_cache .mypy_cache .ruff_cache

# charts/mingo-prediction played with `podman kube play` against the test servers (needs the
# images of `make images`; tests/pods/test_prediction_chart_played.py, docker/README.md).
.PHONY: chart-play
chart-play: install tools system-deps
	$(BIN)/pytest -p no:cacheprovider -m pods tests/pods/test_prediction_chart_played.py

# Pod contract tests (tests/pods/test_pod_contract.py, dags/README.md): every pod of the
# retraining DAGs, built by Airflow's own code, run with podman from the pipeline image against
# the test servers. Runs `make images` first when the pipeline image is missing.
POD_TEST_IMAGE ?= localhost/mingo-pipeline:$(shell sed -n 's/^version = "\(.*\)"$$/\1/p' pyproject.toml | head -1)
.PHONY: pod-tests
pod-tests: install tools system-deps
	@CONTAINERS_CONF=$${CONTAINERS_CONF:-$(CURDIR)/docker/containers.conf} \
		$${CONTAINER_ENGINE:-podman} image inspect $(POD_TEST_IMAGE) >/dev/null 2>&1 \
		|| $(MAKE) images
	MINGO_POD_TEST_IMAGE=$(POD_TEST_IMAGE) $(BIN)/pytest -p no:cacheprovider -m pods tests/pods
