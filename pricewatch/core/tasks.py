"""Core tasks: the periodic dispatcher, a ping, and the retry policy for outside-world tasks."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from celery import Task, shared_task

from pricewatch.core import dispatchers
from pricewatch.core.errors import TemporaryFailure

logger = logging.getLogger(__name__)


class ExternalTask(Task):
    """Base class for tasks that talk to the outside world (shops, SMTP, offer services).

    A TemporaryFailure is retried with exponential backoff and full jitter (so a thousand tasks
    failing together do not come back together), up to `max_retries`; anything else fails at once.
    """

    autoretry_for = (TemporaryFailure,)
    retry_backoff = 2
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 6


@shared_task(name="pricewatch.core.tasks.dispatch", ignore_result=True)
def dispatch() -> dict[str, Any]:
    """Run every registered dispatcher once; each claims its own due rows from the database.

    Called every DISPATCH_INTERVAL_SECONDS by the scheduler. One failing dispatcher does not stop
    the others; a lost tick leaves the work due, so the next tick picks it up.
    """
    summary: dict[str, Any] = {}
    for name, dispatcher in dispatchers.registered().items():
        try:
            summary[name] = dispatcher()
        except Exception:
            logger.exception("dispatcher %s failed", name)
            summary[name] = "failed"
    return summary


# Ticks every few seconds: its start/finish lines go to DEBUG (see pricewatch.celery).
dispatch.log_quietly = True  # type: ignore[attr-defined]


@shared_task(name="pricewatch.core.tasks.ping")
def ping() -> dict[str, Any]:
    """Answer with where the task ran: lets tests and operators see a worker is alive."""
    return {"pid": os.getpid(), "host": socket.gethostname()}
