"""The ASGI body-size guard, driven the way an ASGI server drives it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pricewatch.core.asgi_limits import BodyLimitMiddleware


class _App:
    """Stands in for Django: reads the whole body, then answers 200 with its length."""

    def __init__(self) -> None:
        self.called = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.called = True
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # Django raises RequestAborted and sends nothing
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


def _run(path: str, chunks: list[bytes], content_length: int | None) -> tuple[list[Any], _App]:
    app = _App()
    headers = [] if content_length is None else [(b"content-length", str(content_length).encode())]
    scope = {"type": "http", "path": path, "headers": headers, "method": "POST"}
    queue = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]
    sent: list[Any] = []

    async def receive() -> Any:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(BodyLimitMiddleware(app)(scope, receive, send))
    return sent, app


def test_declared_oversized_body_is_refused_before_the_app_runs(settings: Any) -> None:
    settings.MAX_REQUEST_BYTES = 1000
    sent, app = _run("/api/v1/me", [b"x" * 10], content_length=10 * 1024 * 1024)
    assert not app.called
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "request_too_large"


def test_chunked_body_is_cut_off_once_it_passes_the_limit(settings: Any) -> None:
    settings.MAX_REQUEST_BYTES = 1000
    sent, app = _run("/api/v1/me", [b"x" * 600, b"x" * 600, b"x" * 600], content_length=None)
    assert app.called
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [413]


def test_bodies_within_the_limit_pass(settings: Any) -> None:
    settings.MAX_REQUEST_BYTES = 1000
    sent, _ = _run("/api/v1/me", [b"x" * 500, b"x" * 500], content_length=1000)
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b"1000"


def test_upload_paths_have_their_own_larger_limit(settings: Any) -> None:
    settings.MAX_REQUEST_BYTES = 1000
    settings.MAX_UPLOAD_BYTES = 5000
    sent, _ = _run("/api/v1/imports", [b"x" * 4000], content_length=4000)
    assert sent[0]["status"] == 200
    sent, _ = _run("/api/v1/imports", [b"x" * 10], content_length=6000)
    assert sent[0]["status"] == 413
