"""A service pinned to a version by its Deployment (MINGO_MODEL_VERSION), run for real.

The registry holds two binary versions with `champion` on version 2. A service pinned to 1
serves 1 and refuses to reload; a service whose pin is empty is alive, never ready, and says
how to pin a version; a service pinned to 1 started with the registry unreachable serves 1 from
the model cache the first one filled.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mingo.serving.champion import CACHE_MARKER
from tests.fixtures.services import free_loopback_port
from tests.serving.conftest import (
    ChampionRegistry,
    customer_payloads,
    log_and_register,
    service_env,
)
from tests.serving.running_service import RunningService

MISSING_PIN = (
    "no model version pinned in the Deployment (annotation mingo.io/model-version): "
    "run `mingo deploy roll binary`"
)
# MLflow's client must give up quickly on a registry that is gone.
QUICK_HTTP = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
}


@dataclass
class PinnedServices:
    work: Path
    tracking_uri: str
    cache: Path
    pinned: RunningService
    unpinned_empty: RunningService
    body: dict[str, Any]


@pytest.fixture(scope="module")
def pinned_services(
    champion_registry: ChampionRegistry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PinnedServices]:
    work = tmp_path_factory.mktemp("pinned")
    tracking_uri = f"sqlite:///{work / 'mlflow.db'}"
    model = champion_registry.models["binary"]
    assert log_and_register(tracking_uri, work / "artifacts", model) == "1"
    assert log_and_register(tracking_uri, work / "artifacts", model) == "2"  # the champion
    cache = work / "model-cache"

    def service(name: str, **extra: str) -> RunningService:
        env = service_env(work / name, tracking_uri, extra={**QUICK_HTTP, **extra})
        return RunningService("binary", env, work / f"{name}.log")

    pinned = service("pinned", MINGO_MODEL_VERSION="1", MINGO_MODEL_CACHE_DIR=str(cache))
    empty = service("empty-pin", MINGO_MODEL_VERSION="")
    body = {"customers": customer_payloads(champion_registry.purchases)[:3], "as_of": "2024-04-01"}
    running = PinnedServices(work, tracking_uri, cache, pinned, empty, body)
    try:
        pinned.start()
        empty.start()
        pinned.wait_for("/readyz", 200)
        empty.wait_for("/livez", 200)
        yield running
    finally:
        pinned.stop()
        empty.stop()


def test_a_pinned_service_serves_its_version_not_the_champion(
    pinned_services: PinnedServices,
) -> None:
    answer = httpx.post(pinned_services.pinned.url + "/predict", json=pinned_services.body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["model_version"] == "1"
    assert answer.headers["X-Model-Version"] == "1"


def test_a_pinned_service_refuses_to_reload_to_the_champion(
    pinned_services: PinnedServices,
) -> None:
    refused = httpx.post(pinned_services.pinned.url + "/admin/reload", json={}, timeout=30)
    assert refused.status_code == 409
    message = refused.json()["error"]
    assert "pinned by the Deployment" in message
    assert "`mingo deploy roll binary --version V`" in message
    still = httpx.post(pinned_services.pinned.url + "/predict", json=pinned_services.body)
    assert still.json()["model_version"] == "1"


def test_an_empty_pin_is_alive_never_ready_and_says_how_to_pin(
    pinned_services: PinnedServices,
) -> None:
    service = pinned_services.unpinned_empty
    ready = httpx.get(service.url + "/readyz")
    assert ready.status_code == 503
    refused = httpx.post(service.url + "/predict", json=pinned_services.body)
    assert refused.status_code == 503
    assert refused.json()["error"] == MISSING_PIN
    reload = httpx.post(service.url + "/admin/reload", json={}, timeout=30)
    assert reload.status_code == 409
    assert reload.json()["error"] == MISSING_PIN
    assert MISSING_PIN in service.log_path.read_text()
    assert httpx.get(service.url + "/readyz").status_code == 503  # the reload did not load


def test_a_restart_serves_the_cached_version_without_the_registry(
    pinned_services: PinnedServices,
) -> None:
    entry = pinned_services.cache / "mingo-binary" / "1"
    assert (entry / CACHE_MARKER).is_file()
    assert (entry / "MLmodel").is_file()
    # Nothing listens there: any call to MLflow would fail.
    gone = f"http://127.0.0.1:{free_loopback_port()}"
    env = service_env(
        pinned_services.work / "restarted",
        gone,
        extra={
            **QUICK_HTTP,
            "MINGO_MODEL_VERSION": "1",
            "MINGO_MODEL_CACHE_DIR": str(pinned_services.cache),
        },
    )
    restarted = RunningService("binary", env, pinned_services.work / "restarted.log").start()
    try:
        restarted.wait_for("/readyz", 200)
        answer = httpx.post(restarted.url + "/predict", json=pinned_services.body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_version"] == "1"
    finally:
        restarted.stop()
