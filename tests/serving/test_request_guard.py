"""RequestGuard in front of a real Starlette app: API key and body-size admission."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from mingo.serving.request_guard import RequestGuard

KEY = "s3cret-key"
LIMIT = 1_000


async def echo_size(request: Request) -> JSONResponse:
    return JSONResponse({"received": len(await request.body())})


async def ok(_: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def guarded(api_key: str | None) -> Starlette:
    app = Starlette(
        routes=[
            Route("/predict", echo_size, methods=["POST"]),
            Route("/readyz", ok),
            Route("/metrics", ok),
        ]
    )
    app.add_middleware(RequestGuard, api_key=api_key, max_body_bytes=LIMIT)
    return app


@pytest.fixture
def keyed() -> Iterator[TestClient]:
    with TestClient(guarded(KEY)) as client:
        yield client


def test_missing_or_wrong_key_is_401(keyed: TestClient) -> None:
    missing = keyed.post("/predict", content=b"{}")
    wrong = keyed.post("/predict", content=b"{}", headers={"X-API-Key": "nope"})
    bad_scheme = keyed.post("/predict", content=b"{}", headers={"Authorization": f"Basic {KEY}"})
    assert missing.status_code == 401 and "missing API key" in missing.json()["error"]
    assert wrong.status_code == 401 and "wrong API key" in wrong.json()["error"]
    assert bad_scheme.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")


def test_key_in_header_or_bearer_is_admitted(keyed: TestClient) -> None:
    header = keyed.post("/predict", content=b"abc", headers={"X-API-Key": KEY})
    bearer = keyed.post("/predict", content=b"abcd", headers={"Authorization": f"Bearer {KEY}"})
    assert header.json() == {"received": 3}
    assert bearer.json() == {"received": 4}


def test_probes_and_metrics_need_no_key(keyed: TestClient) -> None:
    assert keyed.get("/readyz").status_code == 200
    assert keyed.get("/metrics").status_code == 200


def test_no_key_configured_admits_everyone() -> None:
    with TestClient(guarded(None)) as client:
        assert client.post("/predict", content=b"x").json() == {"received": 1}


def test_body_over_limit_is_413_declared_or_streamed() -> None:
    with TestClient(guarded(None)) as client:
        declared = client.post("/predict", content=b"x" * (LIMIT + 1))

        def chunks() -> Iterator[bytes]:
            for _ in range(LIMIT // 100 + 2):
                yield b"y" * 100

        streamed = client.post("/predict", content=chunks())
        at_limit = client.post("/predict", content=b"z" * LIMIT)
    assert declared.status_code == 413
    assert f"limit of {LIMIT} bytes" in declared.json()["error"]
    assert streamed.status_code == 413
    assert at_limit.json() == {"received": LIMIT}


def test_bodies_must_be_json() -> None:
    with TestClient(guarded(None)) as client:
        form = client.post("/predict", files={"customers": ("c.json", b"[]")})
        plain = client.post("/predict", content=b"{}", headers={"Content-Type": "text/plain"})
        json_body = client.post(
            "/predict", content=b"{}", headers={"Content-Type": "application/json; charset=utf-8"}
        )
        no_type = client.post("/predict", content=b"{}", headers={"Content-Type": ""})
    assert form.status_code == 415
    assert "'multipart/form-data' is not accepted" in form.json()["error"]
    assert plain.status_code == 415
    assert json_body.json() == {"received": 2}
    assert no_type.json() == {"received": 2}


def test_bodies_beyond_the_in_flight_budget_get_503_with_retry_after() -> None:
    """A limit of 2 largest requests: two near-largest bodies fill it, a third is shed, while
    small bodies (each weighing 1/64 of the largest) still get in beside one large one."""
    import asyncio

    import httpx

    release = asyncio.Event()
    entered = 0

    async def slow(request: Request) -> JSONResponse:
        nonlocal entered
        entered += 1
        await release.wait()
        return JSONResponse({"received": len(await request.body())})

    app = Starlette(routes=[Route("/predict", slow, methods=["POST"]), Route("/readyz", ok)])
    app.add_middleware(RequestGuard, max_body_bytes=LIMIT, max_in_flight=2)
    large = b"x" * 990

    async def burst() -> dict[str, list[httpx.Response]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            held = [asyncio.create_task(client.post("/predict", content=large)) for _ in range(2)]
            while entered < 2:
                await asyncio.sleep(0.01)
            refused = await client.post("/predict", content=large)
            probe = await client.get("/readyz")  # probes are never counted
            release.set()
            answered = list(await asyncio.gather(*held))
            # One large body in flight leaves room for small ones (weight 15), not another.
            release.clear()
            one_large = asyncio.create_task(client.post("/predict", content=large))
            while entered < 3:
                await asyncio.sleep(0.01)
            small = [asyncio.create_task(client.post("/predict", content=b"s")) for _ in range(6)]
            while entered < 9:
                await asyncio.sleep(0.01)
            second_large = await client.post("/predict", content=large)
            release.set()
            rest = [await one_large, *await asyncio.gather(*small)]
        return {
            "refused": [refused, second_large],
            "probe": [probe],
            "answered": answered + rest,
        }

    answers = asyncio.run(burst())
    for refused in answers["refused"]:
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert "at capacity" in refused.json()["error"]
    assert answers["probe"][0].status_code == 200
    assert [a.status_code for a in answers["answered"]] == [200] * 9
    assert entered == 9  # the refused requests never reached the app
