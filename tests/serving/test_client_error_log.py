"""Client errors are logged as one line each (status, reason), without traceback or request body;
server errors keep their traceback. First the pieces, then a real service over HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from bentoml.exceptions import BentoMLException, NotFound
from pydantic import BaseModel, ValidationError

from mingo.serving.client_errors import (
    MAX_REASON_CHARS,
    ClientErrorLog,
    DropClientErrorTracebacks,
    Message,
    client_error_reason,
)
from tests.serving.conftest import API_KEY, ChampionRegistry, Services, customer_payloads

CLIENT_ERROR_LOGGER = "mingo.serving.client_errors"
BODY_SENTINEL = "body-sentinel-7f3a"
KEY_SENTINEL = "wrong-key-sentinel-91c2"
# BentoML's access log writes one INFO line for every request, whatever its status.
ACCESS_LINE_MARK = "(scheme=http,"


def run_app(status: int, body: bytes, chunks: int = 1) -> list[Message]:
    """Passes one request through ClientErrorLog around an app that answers `status` with
    `body` (in `chunks` parts); returns what reached the client."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        size = -(-len(body) // chunks)
        for index in range(chunks):
            part = body[index * size : (index + 1) * size]
            await send(
                {"type": "http.response.body", "body": part, "more_body": index < chunks - 1}
            )

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": []}
    asyncio.run(ClientErrorLog(app)(scope, receive, send))
    return sent


def test_a_4xx_is_one_warning_line_with_status_path_and_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = json.dumps(
        {
            "error": "1 validation error for PredictRequest",
            "detail": [
                {"loc": ["customers", 0, "purchases"], "msg": "List should have at least 1 item"}
            ],
        }
    ).encode()
    with caplog.at_level(logging.INFO, logger=CLIENT_ERROR_LOGGER):
        sent = run_app(400, body, chunks=3)
    assert b"".join(m.get("body", b"") for m in sent) == body  # the answer is unchanged
    records = [r for r in caplog.records if r.name == CLIENT_ERROR_LOGGER]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert record.getMessage() == (
        "client error 400 on POST /predict: 1 validation error for PredictRequest; "
        "customers.0.purchases: List should have at least 1 item"
    )


@pytest.mark.parametrize("status", [200, 204, 302, 500, 503])
def test_other_statuses_are_not_logged_as_client_errors(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=CLIENT_ERROR_LOGGER):
        run_app(status, b'{"error": "whatever"}')
    assert [r for r in caplog.records if r.name == CLIENT_ERROR_LOGGER] == []


def test_reasons_are_one_bounded_line_from_the_error_body() -> None:
    many = {
        "error": "4 validation errors",
        "detail": [{"loc": [f"f{i}"], "msg": "bad"} for i in range(4)],
    }
    assert client_error_reason(json.dumps(many).encode()) == (
        "4 validation errors; f0: bad; f1: bad; f2: bad; and 1 more"
    )
    # BentoML wraps the error of its own exceptions in a one-element list.
    assert client_error_reason(b'[{"error": "not found"}]') == "not found"
    assert client_error_reason(b"Not Found") == "Not Found"
    assert client_error_reason(b"") == "(no reason given)"
    long = client_error_reason(json.dumps({"error": "line\n" * 500}).encode())
    assert "\n" not in long and len(long) == MAX_REASON_CHARS


def exception_record(error: BaseException) -> logging.LogRecord:
    try:
        raise error
    except BaseException:
        exc_info = sys.exc_info()
    return logging.LogRecord(
        "bentoml", logging.ERROR, __file__, 1, "Exception on %s [%s]", ("/p", "POST"), exc_info
    )


class _Request(BaseModel):
    count: int


def test_framework_tracebacks_of_client_errors_are_dropped_server_errors_kept() -> None:
    keep = DropClientErrorTracebacks().filter
    try:
        _Request.model_validate({"count": "many"})
    except ValidationError as error:
        validation_error = error
    assert not keep(exception_record(validation_error))
    assert not keep(exception_record(NotFound("no such task")))
    assert keep(exception_record(BentoMLException("server side")))  # a 500
    assert keep(exception_record(RuntimeError("bug")))
    assert keep(logging.LogRecord("bentoml", logging.INFO, __file__, 1, "started", (), None))


# --- a real service ---------------------------------------------------------------------------


def client_error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "client error " in line]


def wait_for_lines(log_path: Path, offset: int, count: int, timeout_s: float = 30.0) -> str:
    """The log written after `offset`, once it holds `count` client-error lines (and a moment
    more, so that a second line for the same request would show up too)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log_path.read_bytes()[offset:].decode(errors="replace")
        if len(client_error_lines(text)) >= count:
            time.sleep(1.0)
            return log_path.read_bytes()[offset:].decode(errors="replace")
        time.sleep(0.2)
    return log_path.read_bytes()[offset:].decode(errors="replace")


def test_a_real_service_logs_each_4xx_as_one_line_without_traceback_body_or_key(
    services: Services, champion_registry: ChampionRegistry
) -> None:
    service = services.binary  # the one that requires an API key
    service.wait_for("/readyz", 200)
    customer = customer_payloads(champion_registry.purchases)[0]
    bad_value = {
        **customer,
        "purchases": [{**customer["purchases"][0], "gmv_success": BODY_SENTINEL}],
    }
    url = service.url + "/predict"
    key = {"X-API-Key": API_KEY}
    offset = service.log_path.stat().st_size
    with httpx.Client(timeout=30) as client:
        statuses = [
            client.post(
                url,
                content=b"{" + BODY_SENTINEL.encode(),
                headers={**key, "Content-Type": "application/json"},
            ).status_code,
            client.post(url, json={"customers": [bad_value]}, headers=key).status_code,
            client.post(url, json={"customers": []}, headers=key).status_code,
            client.post(
                url, json={"customers": [customer]}, headers={"X-API-Key": KEY_SENTINEL}
            ).status_code,
            client.post(
                url, files={"customers": ("c.json", BODY_SENTINEL.encode())}, headers=key
            ).status_code,
            client.post(url, json={"customers": [customer]}, headers=key).status_code,
        ]
    assert statuses == [400, 400, 400, 401, 415, 200]
    text = wait_for_lines(service.log_path, offset, count=5)

    lines = client_error_lines(text)
    assert [line.split("client error ")[1][:3] for line in lines] == [
        "400",
        "400",
        "400",
        "401",
        "415",
    ]
    assert all("on POST /predict: " in line for line in lines), lines
    assert "gmv_success" in lines[1] and "customers" in lines[2] and "API key" in lines[3]
    assert "Traceback" not in text
    assert BODY_SENTINEL not in text and KEY_SENTINEL not in text and API_KEY not in text
    # Besides the access log's line for every request, a 4xx writes exactly that one line.
    others = [line for line in text.splitlines() if line.strip() and ACCESS_LINE_MARK not in line]
    assert others == lines
    access = [line for line in text.splitlines() if ACCESS_LINE_MARK in line]
    assert len(access) == len(statuses)
