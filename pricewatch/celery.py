"""The Celery app: file-system broker in the embedded mode, Redis at scale (see settings)."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from celery import Celery, signals
from celery.schedules import schedule

from pricewatch.core import broker  # noqa: F401  (registers the embedded broker transport)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricewatch.settings")

app = Celery("pricewatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger("pricewatch.tasks")


@app.on_after_finalize.connect
def _install_schedule(sender: Celery, **kwargs: Any) -> None:
    # Imported here: Celery loads this module before Django is set up.
    from django.conf import settings  # noqa: PLC0415

    interval = float(settings.DISPATCH_INTERVAL_SECONDS)
    sender.conf.beat_schedule = {
        "dispatch-due-work": {
            "task": "pricewatch.core.tasks.dispatch",
            "schedule": schedule(interval),
            # A tick that waited longer than one interval is stale: the next one does its work.
            "options": {"expires": interval},
        },
    }


@signals.setup_logging.connect
def _use_django_logging(**kwargs: Any) -> None:
    """Keep Celery from replacing our logging: Django's LOGGING (text or JSON) applies."""
    # Imported here: Celery loads this module before Django is set up.
    import django  # noqa: PLC0415
    from django.conf import settings  # noqa: PLC0415
    from django.utils.log import configure_logging  # noqa: PLC0415

    django.setup()
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)


_started: dict[str, float] = {}


def _level(task: Any) -> int:
    # Ticks that run every few seconds would drown the log at INFO.
    return logging.DEBUG if getattr(task, "log_quietly", False) else logging.INFO


@signals.task_prerun.connect
def _task_started(task_id: str, task: Any, **kwargs: Any) -> None:
    # Imported here: Celery loads this module before Django is set up.
    from pricewatch.core import context  # noqa: PLC0415

    context.task_id.set(task_id)
    _started[task_id] = time.perf_counter()
    logger.log(_level(task), "task %s started", task.name, extra={"task_id": task_id})


@signals.task_postrun.connect
def _task_finished(task_id: str, task: Any, state: str | None = None, **kwargs: Any) -> None:
    # Imported here: Celery loads this module before Django is set up.
    from pricewatch.core import context  # noqa: PLC0415

    duration_ms = (time.perf_counter() - _started.pop(task_id, time.perf_counter())) * 1000
    logger.log(
        _level(task),
        "task %s finished %s in %.1fms",
        task.name,
        state,
        duration_ms,
        extra={"task_id": task_id, "state": state, "duration_ms": round(duration_ms, 2)},
    )
    context.task_id.set("-")


@signals.task_failure.connect
def _task_failed(task_id: str, exception: BaseException, sender: Any = None, **kwargs: Any) -> None:
    name = getattr(sender, "name", "?")
    logger.error(
        "task %s failed: %s: %s",
        name,
        type(exception).__name__,
        exception,
        extra={"task_id": task_id},
    )


@signals.task_retry.connect
def _task_retried(request: Any = None, reason: Any = None, **kwargs: Any) -> None:
    task_id = getattr(request, "id", "-")
    logger.warning(
        "task %s will be retried: %s",
        getattr(request, "task", "?"),
        reason,
        extra={"task_id": task_id},
    )
