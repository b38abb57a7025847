"""Tasks that exist only for tests; the test worker loads them via CELERY_EXTRA_IMPORTS."""

from __future__ import annotations

import os
from pathlib import Path

from celery import shared_task

from pricewatch.core.errors import PermanentFailure, TemporaryFailure
from pricewatch.core.tasks import ExternalTask


@shared_task(
    name="tests.flaky", base=ExternalTask, bind=True, retry_backoff=0.2, retry_backoff_max=1
)
def flaky(self: ExternalTask, marker: str, failures: int) -> dict[str, int]:
    """Fails temporarily `failures` times (counted in a file), then succeeds."""
    path = Path(marker)
    attempts = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(attempts))
    if attempts <= failures:
        raise TemporaryFailure(f"attempt {attempts} failed")
    Path(f"{marker}.done").write_text(str(attempts))
    return {"attempts": attempts, "pid": os.getpid()}


@shared_task(name="tests.broken", base=ExternalTask, bind=True)
def broken(self: ExternalTask, marker: str) -> None:
    path = Path(marker)
    attempts = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(attempts))
    raise PermanentFailure("the address was rejected")
