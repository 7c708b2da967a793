"""One log line per client error: status, method, path and reason; no traceback, no body.

A client that sends bad requests must not flood the service's log. Every 4xx answer gets
exactly one WARNING line, written by `ClientErrorLog`, an ASGI middleware that watches the
responses and takes the reason from the error body the client receives (`error`, and the
first `detail` entries' `loc` and `msg`): the line never holds the request body, a header or
the API key, and it is cut to `MAX_REASON_CHARS` on one line. The web framework's own record
of a client error (a traceback of the request validation) is dropped by
`DropClientErrorTracebacks`; server errors (5xx) keep their traceback.

The framework is plugged in by the services (`bento_services/`), which name its logger; this
module knows only ASGI and `logging`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from pydantic import ValidationError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger(__name__)

# How much of an error body is read for the reason, and how long the reason may get.
MAX_CAPTURED_BODY_BYTES: Final = 16 * 1024
MAX_REASON_CHARS: Final = 300
# How many `detail` entries (field, message) the reason names.
MAX_DETAIL_ITEMS: Final = 3


def is_client_error(status: int) -> bool:
    return 400 <= status < 500


def one_line(text: str, limit: int = MAX_REASON_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _detail_item(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    message = str(item.get("msg", "")).strip()
    loc = item.get("loc")
    where = ".".join(str(part) for part in loc) if isinstance(loc, list | tuple) else ""
    if where and message:
        return f"{where}: {message}"
    return where or message or None


def client_error_reason(body: bytes) -> str:
    """The reason a client was given, from its error body: `error` and the first `detail`s.

    Takes the service's JSON errors (`{"error": ..., "detail": [{"loc", "msg"}, ...]}`, also
    wrapped in a one-element list) and plain text; the request's values are never in them.
    """
    text = body.decode("utf-8", errors="replace")
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        return one_line(text) or "(no reason given)"
    if isinstance(parsed, list) and len(parsed) == 1:
        parsed = parsed[0]
    if isinstance(parsed, str):
        return one_line(parsed) or "(no reason given)"
    if not isinstance(parsed, dict):
        return "(no reason given)"
    parts = [str(parsed["error"])] if parsed.get("error") else []
    detail = parsed.get("detail")
    if isinstance(detail, list):
        items = [shown for item in detail if (shown := _detail_item(item))]
        parts.extend(items[:MAX_DETAIL_ITEMS])
        if len(items) > MAX_DETAIL_ITEMS:
            parts.append(f"and {len(items) - MAX_DETAIL_ITEMS} more")
    elif isinstance(detail, str) and detail:
        parts.append(detail)
    return one_line("; ".join(parts)) or "(no reason given)"


def log_client_error(status: int, method: str, path: str, reason: str) -> None:
    logger.warning("client error %d on %s %s: %s", status, method, path, one_line(reason))


class ClientErrorLog:
    """ASGI middleware: one `log_client_error` line for every 4xx response it passes on.

    The response goes out unchanged and unbuffered; of a 4xx body only the first
    `MAX_CAPTURED_BODY_BYTES` are kept, to read the reason once the body is complete.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0
        captured = bytearray()
        logged = False

        async def watch(message: Message) -> None:
            nonlocal status, logged
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and is_client_error(status):
                room = MAX_CAPTURED_BODY_BYTES - len(captured)
                if room > 0:
                    captured.extend(message.get("body", b"")[:room])
                if not message.get("more_body", False) and not logged:
                    logged = True
                    log_client_error(
                        status,
                        str(scope.get("method", "")),
                        str(scope.get("path", "")),
                        client_error_reason(bytes(captured)),
                    )
            await send(message)

        await self.app(scope, receive, watch)


def answered_status(error: BaseException) -> int | None:
    """The HTTP status the web framework answers for `error`: 400 for a request that fails
    its schema (pydantic), the `error_code` of a framework exception; None when unknown."""
    if isinstance(error, ValidationError):
        return 400
    code = getattr(getattr(error, "error_code", None), "value", None)
    return code if isinstance(code, int) else None


class DropClientErrorTracebacks(logging.Filter):
    """Drops a record whose exception the framework answers with a 4xx: `ClientErrorLog`
    writes that error's one line as the response leaves. Every other record passes,
    tracebacks of server errors included."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or record.exc_info[1] is None:
            return True
        status = answered_status(record.exc_info[1])
        return status is None or not is_client_error(status)


def drop_client_error_tracebacks(framework_logger: logging.Logger) -> None:
    """Installs `DropClientErrorTracebacks` on `framework_logger`, once."""
    if not any(isinstance(f, DropClientErrorTracebacks) for f in framework_logger.filters):
        framework_logger.addFilter(DropClientErrorTracebacks())
