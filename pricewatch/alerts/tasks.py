"""Celery tasks for alerts: they take no arguments that could go stale and read the database.

Evaluation and delivery both pick their work from tables (the PriceChange outbox past the
cursor, notifications that are queued and due), so a lost or duplicated task loses or doubles
nothing: the dispatcher enqueues them again while work is pending.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from pricewatch.alerts import delivery, evaluation
from pricewatch.core.tasks import ExternalTask

MAX_BATCHES = 20


@shared_task(name="pricewatch.alerts.evaluate_changes", ignore_result=True)
def evaluate_changes() -> dict[str, Any]:
    """Evaluate pending price changes against the rules, then send what became due."""
    totals = {"changes": 0, "fired": 0, "notifications": 0}
    for _ in range(MAX_BATCHES):
        result = evaluation.evaluate_pending()
        totals["changes"] += result.changes
        totals["fired"] += result.fired
        totals["notifications"] += result.notifications
        if not result.more:
            break
    if totals["notifications"]:
        deliver_notifications.delay()
    return totals


@shared_task(name="pricewatch.alerts.deliver_notifications", base=ExternalTask, ignore_result=True)
def deliver_notifications() -> dict[str, int]:
    """Send every notification that is queued and due (claimed row by row, never twice).

    Failures are recorded on the rows and retried through their `due_at` (see
    alerts.delivery), so this task itself does not raise for a failed send.
    """
    outcome = delivery.deliver_due()
    return {
        "sent": outcome.sent,
        "retrying": outcome.retrying,
        "failed": outcome.failed,
        "muted": outcome.muted,
    }
