"""ASGI middleware that admits a request before the service parses it: API key, content type,
body size and requests in flight.

The checks run before the body is read into memory, so an unauthenticated caller or a
multi-gigabyte body costs the service nothing.

Requests in flight are bounded by what they cost in memory, which follows the body size: a
worker admits at most `max_in_flight` largest requests at once, and a request weighs its
declared Content-Length against the largest allowed body (a body without Content-Length weighs
a whole largest request; any request weighs at least 1/64 of one). So four 16 MiB bodies fill a
limit of 4 while a few hundred small requests still queue and merge in the batcher. A request
that does not fit is refused at once with 503 and `Retry-After`, so a burst of large bodies is
shed instead of growing the worker until the pod is OOM-killed. (BentoML's own
`traffic.max_concurrency` counts requests regardless of size and answers 429 without
`Retry-After`.) Bodies must be JSON: other media types (a
multipart form, say) would reach BentoML decoders the services do not use. Health and
metrics endpoints stay open: the kubelet and Prometheus do not carry the API key.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS: Final = frozenset({"/livez", "/readyz", "/healthz", "/metrics"})
# An absent Content-Type is read as JSON (curl -d and many clients send none or form types).
ACCEPTED_MEDIA_TYPES: Final = frozenset(
    {"", "application/json", "application/x-www-form-urlencoded"}
)
METHODS_WITH_BODY: Final = frozenset({"POST", "PUT", "PATCH"})
# 1,000 customers with a few dozen purchases each fit in ~10 MB of JSON.
DEFAULT_MAX_BODY_BYTES: Final = 16 * 1024 * 1024
RETRY_AFTER_SECONDS: Final = 1
# The least a request weighs in the in-flight budget, as a fraction of the largest body.
MIN_WEIGHT_DIVISOR: Final = 64


def presented_api_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key from `X-API-Key`, else from `Authorization: Bearer <key>`."""
    for name, value in headers:
        if name.lower() == b"x-api-key":
            return value.decode("latin-1")
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token:
                return token.strip()
    return None


async def send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="mingo"'))
    if status == 503:
        headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        api_key: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_in_flight: int | None = None,
    ) -> None:
        self.app = app
        self.api_key = api_key
        self.max_body_bytes = max_body_bytes
        self.max_in_flight = max_in_flight
        self.budget_bytes = None if max_in_flight is None else max_in_flight * max_body_bytes
        # One event loop per worker: a plain counter needs no lock.
        self.bytes_in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        if self.api_key is not None:
            presented = presented_api_key(headers)
            if presented is None or not hmac.compare_digest(
                presented.encode(), self.api_key.encode()
            ):
                reason = "missing" if presented is None else "wrong"
                await send_json(
                    send,
                    401,
                    {"error": f"{reason} API key: send it as X-API-Key or Authorization: Bearer"},
                )
                return
        media_type = dict(headers).get(b"content-type", b"").decode("latin-1")
        media_type = media_type.split(";")[0].strip().lower()
        if scope.get("method") in METHODS_WITH_BODY and media_type not in ACCEPTED_MEDIA_TYPES:
            await send_json(
                send,
                415,
                {"error": f"Content-Type {media_type!r} is not accepted; send application/json"},
            )
            return
        declared = dict(headers).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await send_json(send, 413, self._too_large_body())
            return
        weight = self._weight(declared)
        if self.budget_bytes is not None and self.bytes_in_flight + weight > self.budget_bytes:
            await send_json(
                send,
                503,
                {
                    "error": f"the service is at capacity (the bodies in flight in this worker "
                    f"reach {self.max_in_flight} x {self.max_body_bytes} bytes); retry in "
                    f"{RETRY_AFTER_SECONDS} s"
                },
            )
            return
        self.bytes_in_flight += weight
        try:
            await self._forward_with_limit(scope, receive, send)
        finally:
            self.bytes_in_flight -= weight

    def _weight(self, declared: bytes | None) -> int:
        floor = self.max_body_bytes // MIN_WEIGHT_DIVISOR
        if declared is None or not declared.isdigit():
            return self.max_body_bytes  # a streamed body may grow to the cap
        return max(int(declared), floor)

    def _too_large_body(self) -> dict[str, Any]:
        return {"error": f"request body exceeds the limit of {self.max_body_bytes} bytes"}

    async def _forward_with_limit(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body up to the cap, then replay it: a chunked body has no Content-Length."""
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body_bytes:
                await send_json(send, 413, self._too_large_body())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
