"""Hooks the rest of pricewatch calls: the price-change consumer and the periodic dispatcher."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pricewatch.alerts import delivery, evaluation, tasks


def changes_recorded(change_ids: Sequence[int]) -> None:
    """Called after commit with new PriceChange ids: evaluate them in the worker.

    The ids are only a nudge; the task reads everything past the cursor, so changes whose
    nudge was lost are evaluated by the next dispatcher tick.
    """
    if change_ids:
        tasks.evaluate_changes.delay()


def dispatch_due() -> dict[str, Any]:
    """Every few seconds: sweep unevaluated changes and due notifications into tasks."""
    summary: dict[str, Any] = {"interrupted": delivery.expire_interrupted()}
    if evaluation.pending_exists():
        tasks.evaluate_changes.delay()
        summary["evaluate"] = True
    if delivery.due().exists():
        tasks.deliver_notifications.delay()
        summary["deliver"] = True
    return summary
