"""An ASGI wrapper that refuses oversized request bodies before Django reads them.

Django's ASGI handler reads the whole body (spooling to disk) before any middleware runs, so a
2 GB upload would be written out before a Django-level check could refuse it. This wrapper answers
413 from the Content-Length header at once, and cuts off chunked bodies as soon as they pass the
limit.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def limit_for_path(path: str) -> int:
    if path.startswith(tuple(settings.UPLOAD_PATH_PREFIXES)):
        return int(settings.MAX_UPLOAD_BYTES)
    return int(settings.MAX_REQUEST_BYTES)


async def _send_too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "detail": f"The request body is larger than the limit of {limit} bytes.",
            "code": "request_too_large",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for_path(scope.get("path", ""))
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        # The HTTP server has already refused a malformed Content-Length.
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_too_large(send, limit)
            return

        received = 0
        exceeded = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Pretend the client went away: Django stops reading and sends nothing,
                    # and we answer 413 below.
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)
        if exceeded and not response_started:
            await _send_too_large(send, limit)
