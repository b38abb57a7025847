"""Send each message at most once: the row is claimed with a conditional UPDATE before sending.

The crash window: a worker that dies after the server accepted a message but before the row
says "sent" leaves the row in `sending`. When its lease runs out the row is failed as
interrupted instead of being sent again: a rare visible "may not have arrived" beats a duplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from django.db.models import F, QuerySet
from django.utils import timezone

from pricewatch.core import mail
from pricewatch.core.errors import PermanentFailure, TemporaryFailure
from pricewatch.core.models import Deliverable, Delivery, DeliveryStatus

LEASE = timedelta(minutes=10)
INTERRUPTED = (
    "Delivery was interrupted (the worker stopped) after the message may already have been "
    "handed to the server. Not retried automatically, to avoid a duplicate: resend it if it "
    "did not arrive."
)

D = TypeVar("D", bound=Deliverable)
T = TypeVar("T")


def claim(rows: QuerySet[D], *, now: datetime | None = None) -> str:
    """Take the rows that are queued and due; returns the token that marks them as ours.

    The condition is re-checked under the row lock, so two claimers never take the same row.
    """
    now = now or timezone.now()
    token = uuid.uuid4().hex
    rows.filter(status=DeliveryStatus.QUEUED, due_at__lte=now).update(
        status=DeliveryStatus.SENDING,
        claim=token,
        lease_until=now + LEASE,
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    return token


def claimed(rows: QuerySet[D], token: str) -> QuerySet[D]:
    return rows.filter(claim=token, status=DeliveryStatus.SENDING)


def finish(
    rows: QuerySet[D], token: str, *, status: str = DeliveryStatus.SENT, error: str = ""
) -> int:
    """End our claim: sent, or another final status of the caller's (e.g. muted) with why."""
    now = timezone.now()
    # By token alone: a row our slow send let expire meanwhile still says what happened.
    return rows.filter(claim=token).update(
        status=status,
        sent_at=now if status == DeliveryStatus.SENT else None,
        last_error=error,
        lease_until=None,
        updated_at=now,
    )


def release(
    rows: QuerySet[D],
    token: str,
    failure: TemporaryFailure | PermanentFailure,
    *,
    final: bool = False,
    retry_at: datetime | None = None,
) -> bool:
    """Record a failed attempt: queued again for `retry_at`, or failed for good; True if failed.

    A permanent failure, or a temporary one on the `final` attempt, is never retried.
    """
    now = timezone.now()
    failed = final or isinstance(failure, PermanentFailure)
    update: dict[str, object] = {
        "status": DeliveryStatus.FAILED if failed else DeliveryStatus.QUEUED,
        "last_error": str(failure)[:2000],
        "lease_until": None,
        "updated_at": now,
    }
    if not failed:
        update["due_at"] = retry_at or now
    rows.filter(claim=token).update(**update)
    return failed


def expire_interrupted(rows: QuerySet[D], *, now: datetime | None = None) -> int:
    """Rows left in `sending` by a worker that died: failed, not sent again (see the module doc)."""
    now = now or timezone.now()
    return rows.filter(status=DeliveryStatus.SENDING, lease_until__lt=now).update(
        status=DeliveryStatus.FAILED, last_error=INTERRUPTED, lease_until=None, updated_at=now
    )


def send_once(key: str, send: Callable[[], T], *, final_attempt: bool = False) -> T | None:
    """Call `send` unless the message named `key` was sent, failed, or is being sent.

    Returns what `send` returned, or None when it was not ours to send. A failure is classified
    (`core.mail.classify_mail_error`) and raised: TemporaryFailure leaves the message queued
    for the caller's retry, PermanentFailure (or any failure on the `final_attempt`) fails it.
    """
    now = timezone.now()
    Delivery.objects.get_or_create(key=key, defaults={"due_at": now})
    rows = Delivery.objects.filter(key=key)
    expire_interrupted(rows, now=now)
    token = claim(rows, now=now)
    if not claimed(rows, token).exists():
        return None
    try:
        result = send()
    except Exception as error:
        failure = mail.classify_mail_error(error)
        failed = release(rows, token, failure, final=final_attempt, retry_at=now)
        if failed and not isinstance(failure, PermanentFailure):
            failure = PermanentFailure(str(failure))
        if failure is error:
            raise
        raise failure from error
    finish(rows, token)
    return result


def state(key: str) -> Delivery | None:
    """The delivery row of the message named `key`, if it was ever attempted."""
    return Delivery.objects.filter(key=key).first()
