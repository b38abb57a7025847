"""Celery tasks of the tracker: check pages (the dispatcher and "add item" enqueue these).

Idempotent and at-least-once: a check that is lost (worker killed) leaves its pages due, and
the dispatcher leases them again once the lease runs out. No Celery-level retries: every page
ends with a Check row, failures included, and its next check comes with its schedule.
"""

from __future__ import annotations

from celery import shared_task

from pricewatch.tracking import checks

# The batch stops itself after checks.batch_seconds() (at most 300 s); these limits only
# catch a worker stuck somewhere else (prefork pool: the child process is replaced).
SOFT_TIME_LIMIT = 360
TIME_LIMIT = 420


@shared_task(
    name="pricewatch.tracking.tasks.check_pages",
    ignore_result=True,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=TIME_LIMIT,
)
def check_pages(page_ids: list[int], trigger: str) -> dict[str, object]:
    """Check these pages (a dispatcher chunk of up to 50); `trigger` is a Check.Trigger."""
    return checks.check_pages(page_ids=page_ids, trigger=trigger).as_dict()


@shared_task(
    name="pricewatch.tracking.tasks.check_page",
    ignore_result=True,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=TIME_LIMIT,
)
def check_page(page_id: int, trigger: str) -> dict[str, object]:
    """Check one page (the first check of a newly tracked URL, or "check now")."""
    return checks.check_pages(page_ids=[page_id], trigger=trigger).as_dict()
