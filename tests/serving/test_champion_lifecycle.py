"""A service's life with its registry, in order: not ready without a champion, ready once one
is promoted, a reload that swaps versions without failing requests in flight, and a registry
that goes away leaving the service ready on the model it holds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from mingo import registered_model_name
from tests.serving.conftest import ChampionRegistry, Services, customer_payloads, log_and_register


def test_champion_lifecycle_of_a_running_service(
    services: Services, champion_registry: ChampionRegistry
) -> None:
    service = services.empty
    body = {"customers": customer_payloads(champion_registry.purchases)[:3], "as_of": "2024-04-01"}

    # 1. Started before anything was promoted: alive, not ready, refuses to guess.
    assert service.status("/livez") == 200
    assert service.status("/readyz") == 503
    refused = httpx.post(service.url + "/predict", json=body, timeout=30)
    assert refused.status_code == 503
    assert "no champion" in refused.json()["error"]

    # 2. A champion is promoted: the service finds it by itself and answers with it.
    first = log_and_register(
        services.empty_registry.uri,
        services.empty_registry.root / "artifacts",
        champion_registry.models["binary"],
    )
    service.wait_for("/readyz", 200, timeout_s=60)
    answer = httpx.post(service.url + "/predict", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["model_version"] == first

    # 3. A new version is promoted; a reload under load swaps it in and drops nothing.
    name = registered_model_name("binary")
    second = log_and_register(
        services.empty_registry.uri,
        services.empty_registry.root / "artifacts",
        champion_registry.models["binary"],
    )

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
        "model_version": second,
        "previous_version": first,
        "reloaded": True,
    }
    assert all(status == 200 for status, _ in answers), answers
    assert {version for _, version in answers} <= {first, second}
    after = httpx.post(service.url + "/predict", json=body, timeout=30)
    assert after.headers["X-Model-Version"] == second

    # 4. The registry goes away (its server stops): the reload fails loudly, the service
    # stays ready and keeps answering with the model it holds.
    services.empty_registry.stop()
    failed = httpx.post(service.url + "/admin/reload", json={}, timeout=60)
    assert failed.status_code == 503
    assert f"still serving version {second}" in failed.json()["error"]
    assert service.status("/readyz") == 200
    still = httpx.post(service.url + "/predict", json=body, timeout=30)
    assert still.status_code == 200
    assert still.json()["model_version"] == second
