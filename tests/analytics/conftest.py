"""Fixtures for the analytics tests: an empty buffer, today's salt, a browser-like client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from pricewatch.analytics import buffer, services

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
ADDRESS = "203.0.113.7"


@pytest.fixture(autouse=True)
def empty_buffer(db: None, settings: Any) -> Iterator[None]:
    settings.ANALYTICS_RESPECT_DNT = True
    settings.ANALYTICS_TRUSTED_PROXIES = []
    for _ in buffer.drain(include_open=True):
        pass
    services.ensure_salts()
    yield
    for _ in buffer.drain(include_open=True):
        pass


def browser(user_agent: str = FIREFOX, address: str = ADDRESS, **headers: str) -> Client:
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    return Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address, **extra)


def flush() -> services.FlushReport:
    report = services.flush(include_open=True)
    assert report is not None
    return report
