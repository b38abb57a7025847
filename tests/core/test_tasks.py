"""Tasks run in a real worker process; the retry policy backs off on temporary failures."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from django_celery_results.models import TaskResult

from pricewatch.core import dispatchers, tasks
from tests import tasks as test_tasks
from tests.services import WorkerProcess

pytestmark = pytest.mark.worker


def test_a_task_enqueued_here_runs_in_the_separate_worker_process(
    live_worker: WorkerProcess,
) -> None:
    result = tasks.ping.delay()
    answer = result.get(timeout=30)
    assert answer["pid"] != os.getpid()
    # the result went through the configured result backend: the database
    assert TaskResult.objects.filter(task_id=result.id, status="SUCCESS").exists()


def test_temporary_failures_are_retried_until_they_succeed(
    live_worker: WorkerProcess, tmp_path: Path
) -> None:
    marker = tmp_path / "attempts"
    test_tasks.flaky.delay(str(marker), failures=2)
    # Wait on the task's own record, not the result backend: with a zero countdown (full jitter)
    # the retried copy can finish before the failed one has stored its RETRY state.
    done = Path(f"{marker}.done")
    deadline = time.monotonic() + 60
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert done.exists(), live_worker.log()
    assert done.read_text() == "3"
    time.sleep(0.5)
    assert marker.read_text() == "3"  # no attempt after the success


def test_permanent_failures_are_not_retried(live_worker: WorkerProcess, tmp_path: Path) -> None:
    marker = tmp_path / "attempts"
    result = test_tasks.broken.delay(str(marker))
    with pytest.raises(Exception, match="rejected"):
        result.get(timeout=30)
    assert marker.read_text() == "1"


def test_the_dispatcher_calls_every_registered_dispatcher() -> None:
    _calls.clear()
    with dispatchers.replaced([explode, record_call]):
        summary = tasks.dispatch()
    assert _calls == ["called"]  # the failing one did not stop the rest
    assert summary == {
        "tests.core.test_tasks.explode": "failed",
        "tests.core.test_tasks.record_call": 1,
    }


def test_every_app_registers_its_dispatcher() -> None:
    assert set(dispatchers.registered()) >= {
        "pricewatch.tracking.dispatch.dispatch_due",
        "pricewatch.catalog.notifications.send_due_notices",
        "pricewatch.alerts.dispatch.dispatch_due",
    }


def test_the_scheduler_runs_the_dispatcher_every_few_seconds(settings: Any) -> None:
    from pricewatch.celery import app

    entry = app.conf.beat_schedule["dispatch-due-work"]
    assert entry["task"] == "pricewatch.core.tasks.dispatch"
    assert entry["schedule"].run_every.total_seconds() == settings.DISPATCH_INTERVAL_SECONDS


_calls: list[str] = []


def record_call() -> int:
    _calls.append("called")
    return 1


def explode() -> None:
    raise RuntimeError("boom")
