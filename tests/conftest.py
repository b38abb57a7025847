from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from tests import services

IN_CI = os.environ.get("CI") == "true"


def require(condition: bool, reason: str) -> None:
    """Skip with a visible reason locally; under CI a missing service is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required under CI but unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    # Rate limits and throttles live in the cache; one test's requests must not slow another.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _service_markers(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres"):
        require(
            services.database_vendor() == "postgresql",
            "PostgreSQL not configured "
            "(set DATABASE_URL=postgres://postgres@127.0.0.1:5432/pricewatch)",
        )
    if request.node.get_closest_marker("redis"):
        require(services.redis_reachable(), "Redis not configured or unreachable (set REDIS_URL)")
    if request.node.get_closest_marker("browser"):
        require(
            services.chromium_path() is not None,
            "Chromium not installed (apt-get install chromium) or playwright missing",
        )


@pytest.fixture
def smtp_server() -> Iterator[services.SMTPServer]:
    server = services.SMTPServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup: None, django_db_blocker: Any
) -> Iterator[services.WorkerProcess]:
    """A real `pricewatch worker` process on the same database and broker as the tests."""
    worker = services.WorkerProcess()
    with django_db_blocker.unblock():
        worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def live_worker(
    celery_worker_process: services.WorkerProcess, transactional_db: None
) -> Iterator[services.WorkerProcess]:
    """Tasks go through the broker to the worker process instead of running in the test."""
    from pricewatch.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield celery_worker_process
    finally:
        app.conf.task_always_eager = previous


def pytest_sessionstart(session: pytest.Session) -> None:
    from django.conf import settings

    if settings.CELERY_BROKER_URL.startswith("pwfilesystem://"):
        # Messages left by an earlier, interrupted run must not reach this run's worker.
        for folder in ("queue", "processed", "control"):
            target = Path(settings.BROKER_DIR) / folder
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True, exist_ok=True)
