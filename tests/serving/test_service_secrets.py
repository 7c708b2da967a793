"""No secret in any answer or log line: a service whose tracking URI carries a password, and
whose registry cannot be reached, is asked everything; the password appears nowhere."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.fixtures.services import free_loopback_port
from tests.serving.conftest import ChampionRegistry, customer_payloads, service_env
from tests.serving.running_service import RunningService

PASSWORD = "S3cretTestPassw0rd"
QUICK_HTTP = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
}


def test_the_tracking_password_is_in_no_answer_and_no_log_line(
    champion_registry: ChampionRegistry, tmp_path: Path
) -> None:
    # Nothing listens on that port: every load fails with the URL in MLflow's message.
    uri = f"http://mingo:{PASSWORD}@127.0.0.1:{free_loopback_port()}"
    env = service_env(tmp_path / "home", uri, poll_seconds=1, extra=QUICK_HTTP)
    service = RunningService("binary", env, tmp_path / "service.log").start()
    body = {"customers": customer_payloads(champion_registry.purchases)[:2], "as_of": "2024-04-01"}
    try:
        service.wait_for("/livez", 200)
        answers = [
            httpx.get(service.url + "/readyz", timeout=30),
            httpx.post(service.url + "/predict", json=body, timeout=30),
            httpx.post(service.url + "/admin/reload", json={}, timeout=60),
        ]
        service.wait_for("/livez", 200)  # a few more polls of the registry get logged
    finally:
        service.stop()
    assert [a.status_code for a in answers] == [503, 503, 503]
    reload_error = answers[2].json()["error"]
    assert "reload failed" in reload_error
    assert "mingo:***@127.0.0.1" in reload_error  # the URI is named, its password is not
    for answer in answers:
        assert PASSWORD not in answer.text
        assert PASSWORD not in str(answer.headers)
    log = service.log_path.read_text()
    assert "not ready" in log  # the failures were logged ...
    assert PASSWORD not in log  # ... without the password
