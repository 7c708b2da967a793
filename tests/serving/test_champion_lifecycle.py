"""Start-time resolution and reload: not ready without a champion, ready once one appears,
a reload swaps versions without failing requests in flight, and a registry that goes away
leaves the service ready on the model it has."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from mlflow import MlflowClient

from mingo import registered_model_name
from tests.serving.conftest import ChampionRegistry, Services, customer_payloads, log_and_register


def test_not_ready_without_champion_then_ready_once_promoted(
    services: Services, champion_registry: ChampionRegistry
) -> None:
    empty = services.empty
    assert empty.status("/livez") == 200
    assert empty.status("/readyz") == 503
    body = {"customers": customer_payloads(champion_registry.purchases)[:1]}
    refused = httpx.post(empty.url + "/predict", json=body, timeout=30)
    assert refused.status_code == 503
    assert "no champion" in refused.json()["error"]

    version = log_and_register(
        services.empty_registry_uri,
        empty.log_path.parent / "empty-artifacts",
        champion_registry.models["binary"],
    )
    empty.wait_for("/readyz", 200, timeout_s=60)
    answer = httpx.post(empty.url + "/predict", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["model_version"] == version


def test_reload_swaps_version_without_dropping_requests_in_flight(services: Services) -> None:
    service = services.reloadable
    service.wait_for("/readyz", 200)
    registry = services.reloadable_registry
    name = registered_model_name("binary")
    client = MlflowClient(tracking_uri=registry.tracking_uri)
    old = client.get_model_version(name, registry.versions["binary"])
    new = client.create_model_version(name, source=old.source, run_id=old.run_id)
    client.set_registered_model_alias(name, "champion", new.version)

    customers = customer_payloads(registry.purchases)
    body = {"customers": customers[:3], "as_of": "2024-04-01"}

    def ask(_: int) -> tuple[int, str]:
        response = httpx.post(service.url + "/predict", json=body, timeout=60)
        return response.status_code, response.headers.get("X-Model-Version", "")

    with ThreadPoolExecutor(max_workers=8) as pool:
        in_flight = [pool.submit(ask, i) for i in range(60)]
        reload = httpx.post(service.url + "/admin/reload", json={}, timeout=60)
        answers = [f.result() for f in in_flight]

    assert reload.status_code == 200, reload.text
    assert reload.json() == {
        "model": name,
        "model_version": new.version,
        "previous_version": old.version,
        "reloaded": True,
    }
    assert all(status == 200 for status, _ in answers), answers
    assert {version for _, version in answers} <= {old.version, new.version}
    after = httpx.post(service.url + "/predict", json=body, timeout=30)
    assert after.headers["X-Model-Version"] == new.version

    # The registry goes away (its database is replaced by garbage): the reload fails loudly,
    # the service stays ready and keeps answering with the model it holds.
    registry.db_path.rename(registry.db_path.with_suffix(".moved"))
    registry.db_path.write_bytes(b"this is not a database" * 100)
    failed: Any = httpx.post(service.url + "/admin/reload", json={}, timeout=60)
    assert failed.status_code == 503
    assert f"still serving version {new.version}" in failed.json()["error"]
    assert service.status("/readyz") == 200
    still = httpx.post(service.url + "/predict", json=body, timeout=30)
    assert still.status_code == 200
    assert still.json()["model_version"] == new.version
