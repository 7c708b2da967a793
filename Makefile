# MinGo. Two commands matter: `make demo` and `make test`. Everything installs from uv.lock.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed

.PHONY: install tools system-deps demo test lint bench images clean help

help:
	@echo "make demo   - set up and run the embedded end-to-end demo"
	@echo "make test   - set up and run the whole test suite (starts PostgreSQL and an S3 server)"
	@echo "make lint   - ruff + mypy"
	@echo "make bench  - benchmarks (full ClickBus scale; slow)"
	@echo "make images - build the pipeline image and the three prediction images (podman or docker)"

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "uv==0.13.9"

$(STAMP): $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --extra pipeline --python $(BIN)/python
	touch $(STAMP)

install: $(STAMP)

# Binaries the Python packages do not carry (helm), installed into .venv/bin.
tools: install
	bash scripts/install_tools.sh $(BIN)

# PostgreSQL server binaries for the tests (Debian package; the tests start their own cluster).
system-deps:
	bash scripts/install_system_deps.sh

demo: install
	$(BIN)/mingo demo

test: install tools system-deps
	$(BIN)/pytest

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
	rm -rf $(VENV) .mingo .pytest_cache .mypy_cache .ruff_cache

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
