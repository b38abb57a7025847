"""The fetcher as the tracker uses it: configuration from settings, one long-lived event loop.

`fetch_config()` turns the `FETCH_*` settings into a `core.fetch.FetchConfig`.

`run_async()` runs a coroutine on this process's fetch loop: one background thread with one
asyncio event loop and one `Fetcher`, kept for the life of the process. Keeping them (rather
than `asyncio.run` per task) is what makes politeness real and connections cheap: the per-host
concurrency limit and minimum delay hold across every batch a worker process runs at the same
time, keep-alive connections and TLS sessions are reused from one batch to the next,
robots.txt is fetched once an hour per shop, and Chromium is started once. The ORM is never
used on that thread: callers do their database work on their own thread, before and after.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import logging
import os
import threading
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.db import DatabaseError

from pricewatch.core.fetch import FetchConfig, Fetcher, match_domain
from pricewatch.tracking.models import SiteRule

__all__ = [
    "fetch_config",
    "js_domains",
    "render_available",
    "render_fallback_enabled",
    "run_async",
    "site_rule_js_domains",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A shop asking us (Retry-After) to wait longer than this is reported, not waited for: the
# next scheduled check comes soon enough, and a worker must not sleep through its batch.
CHECK_RETRY_AFTER_MAX = 30.0


def site_rule_js_domains() -> list[str]:
    """Domains whose site rule asks for JavaScript rendering (empty if the table is missing)."""
    try:
        return list(
            SiteRule.objects.filter(render_javascript=True).values_list("domain", flat=True)
        )
    except DatabaseError:  # e.g. `pricewatch check` before the first migrate
        return []


def js_domains(extra: Iterable[str] = ()) -> frozenset[str]:
    """FETCH_JS_DOMAINS plus `extra` (usually the site-rule domains), lower-cased."""
    domains = [*settings.FETCH_JS_DOMAINS, *extra]
    return frozenset(domain.strip().lower() for domain in domains if domain.strip())


def fetch_config(*, include_site_rules: bool = True, **overrides: Any) -> FetchConfig:
    """The fetcher configuration from the FETCH_* settings (and the site rules' JS domains).

    `include_site_rules=False` leaves the site rules out of `js_domains`: the batch checker
    decides per page instead, so editing a rule does not replace the long-lived fetcher.
    """
    extra = site_rule_js_domains() if include_site_rules else []
    values: dict[str, Any] = {
        "allow_networks": tuple(settings.FETCH_ALLOW_NETWORKS),
        "respect_robots": settings.FETCH_RESPECT_ROBOTS,
        "proxy": settings.FETCH_PROXY or None,
        "domain_proxies": dict(settings.FETCH_DOMAIN_PROXIES),
        "js_domains": js_domains(extra),
        "chromium_path": settings.FETCH_CHROMIUM_PATH,
        "per_host_concurrency": settings.FETCH_PER_HOST_CONCURRENCY,
        "per_host_min_delay": settings.FETCH_PER_HOST_MIN_DELAY,
        "retry_after_max": CHECK_RETRY_AFTER_MAX,
    }
    # Any other FetchConfig field (timeouts, retries, body limit), e.g. for tests or an
    # installation behind a slow proxy: FETCH_OPTIONS = {"total_timeout": 60}.
    values.update(getattr(settings, "FETCH_OPTIONS", {}) or {})
    values.update(overrides)
    return FetchConfig(**values)


def is_js_domain(host: str, domains: Iterable[str]) -> bool:
    return match_domain(host, domains) is not None


def render_available(chromium_path: str | None = None) -> bool:
    """True when pages can be rendered here: playwright importable and Chromium installed."""
    path = chromium_path or settings.FETCH_CHROMIUM_PATH
    return importlib.util.find_spec("playwright") is not None and Path(path).exists()


def render_fallback_enabled() -> bool:
    """Render pages whose static HTML shows no price (FETCH_RENDER_FALLBACK, if Chromium exists)."""
    return bool(settings.FETCH_RENDER_FALLBACK) and render_available()


# --------------------------------------------------------------------------------------------
# The process's fetch loop
# --------------------------------------------------------------------------------------------


class _FetcherSlot:
    """A Fetcher and the number of coroutines using it (so a replaced one closes when idle)."""

    def __init__(self, config: FetchConfig) -> None:
        self.config = config
        self.fetcher = Fetcher(config)
        self.users = 0
        self.retired = False


def _new_loop() -> asyncio.AbstractEventLoop:
    # uvloop (installed with uvicorn) roughly halves the event loop's share of a check's CPU.
    try:
        # Imported here: optional accelerator.
        import uvloop  # noqa: PLC0415
    except ImportError:  # pragma: no cover - uvloop is in requirements.txt
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class _FetchLoop:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = _new_loop()
        self._current: _FetcherSlot | None = None
        self._thread = threading.Thread(
            target=self._main, name="pricewatch-fetch-loop", daemon=True
        )
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def _with_fetcher(
        self, config: FetchConfig, work: Callable[[Fetcher], Coroutine[Any, Any, T]]
    ) -> T:
        # Runs on the loop thread: no lock needed around _current.
        slot = self._current
        if slot is None or slot.config != config:
            if slot is not None:
                slot.retired = True
                if slot.users == 0:
                    await slot.fetcher.aclose()
            slot = self._current = _FetcherSlot(config)
        slot.users += 1
        try:
            return await work(slot.fetcher)
        finally:
            slot.users -= 1
            if slot.retired and slot.users == 0:
                await slot.fetcher.aclose()

    def submit(
        self, config: FetchConfig, work: Callable[[Fetcher], Coroutine[Any, Any, T]]
    ) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(self._with_fetcher(config, work), self.loop)

    async def _close(self) -> None:
        if self._current is not None:
            await self._current.fetcher.aclose()
            self._current = None

    def close(self, timeout: float = 5.0) -> None:
        if self.loop.is_closed() or not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(timeout)
        except Exception:  # shutting down: a browser that will not close must not block exit
            logger.debug("closing the fetch loop failed", exc_info=True)
        self.loop.call_soon_threadsafe(self.loop.stop)


_lock = threading.Lock()
_fetch_loop: _FetchLoop | None = None


def _get_loop() -> _FetchLoop:
    global _fetch_loop
    with _lock:
        # A forked child (Celery prefork) inherits the object but not the thread: start anew.
        if _fetch_loop is None or _fetch_loop.pid != os.getpid():
            _fetch_loop = _FetchLoop()
        return _fetch_loop


@atexit.register
def _close_at_exit() -> None:
    if _fetch_loop is not None and _fetch_loop.pid == os.getpid():
        _fetch_loop.close()


def run_async(
    work: Callable[[Fetcher], Coroutine[Any, Any, T]],
    *,
    config: FetchConfig,
    timeout: float,
) -> T:
    """Run `work(fetcher)` on the process's fetch loop and wait at most `timeout` seconds.

    `work` is expected to keep its own, shorter deadline; this one is the safety net. On
    timeout the coroutine is cancelled and TimeoutError raised.
    """
    future = _get_loop().submit(config, work)
    try:
        return future.result(timeout)
    except FutureTimeout as exc:
        future.cancel()
        raise TimeoutError(f"the fetch work did not finish within {timeout:g} s") from exc
