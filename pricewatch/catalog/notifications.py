"""Batched mail to the admins about products created, changed or deleted through the API.

Every edit leaves a ProductNotice in its own transaction (catalog.services). The dispatcher
(`send_due_notices`, every few seconds) gathers the pending notices into one NoticeBatch when
the oldest has waited CATALOG_NOTICE_BATCH_SECONDS, or when the edits stopped for
CATALOG_NOTICE_QUIET_SECONDS (a burst is over), and queues one mail for it. Claiming is a
conditional UPDATE (only rows without a batch), so two dispatchers never batch the same notice;
sending holds a short lock on the batch and marks it sent only after the SMTP server accepted
the message, so two workers never send the same batch. A batch whose task was lost is queued
again after NOTICE_REQUEUE_SECONDS.
"""

from __future__ import annotations

import logging
import smtplib
import socket
from datetime import timedelta
from typing import Any, Final

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from pricewatch.accounts.models import User
from pricewatch.catalog.models import NoticeBatch, ProductNotice
from pricewatch.core.errors import PermanentFailure, TemporaryFailure
from pricewatch.core.mail import send_templated_mail
from pricewatch.core.tasks import ExternalTask

logger = logging.getLogger(__name__)

TEMPLATE: Final = "catalog/email/product_notices"
# How long one worker may hold a batch while talking to the SMTP server.
SEND_LOCK_SECONDS: Final = 300
# A pending batch not sent this long after its task was queued lost that task: queue it again.
# Longer than the whole retry schedule of ExternalTask (at most about 20 minutes).
NOTICE_REQUEUE_SECONDS: Final = 1800
# The mail lists this many changes and counts the rest.
MAIL_MAX_NOTICES: Final = 200


def batch_seconds() -> int:
    return int(getattr(settings, "CATALOG_NOTICE_BATCH_SECONDS", 60))


def quiet_seconds() -> int:
    """No edit for this long ends a burst: its mail need not wait the full batch time."""
    default = min(15, batch_seconds())
    return int(getattr(settings, "CATALOG_NOTICE_QUIET_SECONDS", default))


def admin_addresses() -> list[str]:
    return list(
        User.objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
    )


def claim_due_notices() -> NoticeBatch | None:
    """Put every pending notice into a new batch if they are due; None when nothing is due."""
    now = timezone.now()
    pending = ProductNotice.objects.filter(batch__isnull=True)
    oldest = pending.order_by("created_at", "pk").values_list("created_at", flat=True).first()
    if oldest is None:
        return None
    newest = pending.order_by("-created_at", "-pk").values_list("created_at", flat=True).first()
    assert newest is not None
    waited_long = oldest <= now - timedelta(seconds=batch_seconds())
    burst_over = newest <= now - timedelta(seconds=quiet_seconds())
    if not (waited_long or burst_over):
        return None
    with transaction.atomic():
        batch = NoticeBatch.objects.create(enqueued_at=now)
        # The condition `batch IS NULL` is re-checked under the row lock: a notice another
        # dispatcher claimed meanwhile is not taken again.
        claimed = ProductNotice.objects.filter(batch__isnull=True, created_at__lte=now).update(
            batch=batch
        )
        if not claimed:
            batch.delete()
            return None
        transaction.on_commit(lambda: send_notice_batch.delay(batch.pk))
    logger.info("batched %d product notices into batch %d", claimed, batch.pk)
    return batch


def requeue_lost_batches() -> int:
    """Queue again the batches whose send task vanished (worker killed, broker lost)."""
    now = timezone.now()
    stale = now - timedelta(seconds=NOTICE_REQUEUE_SECONDS)
    requeued = 0
    candidates = NoticeBatch.objects.filter(
        status=NoticeBatch.Status.PENDING, enqueued_at__lt=stale
    ).filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
    for batch_id in candidates.values_list("pk", flat=True)[:100]:
        taken = NoticeBatch.objects.filter(
            pk=batch_id, status=NoticeBatch.Status.PENDING, enqueued_at__lt=stale
        ).update(enqueued_at=now)
        if taken:
            send_notice_batch.delay(batch_id)
            requeued += 1
    return requeued


def send_due_notices() -> dict[str, Any]:
    """The dispatcher: batch due notices, and revive batches that lost their task."""
    batch = claim_due_notices()
    return {"batched": batch.pk if batch else None, "requeued": requeue_lost_batches()}


def classify_smtp_error(error: BaseException) -> type[Exception]:
    """TemporaryFailure when a later retry may succeed (4xx, network trouble), else permanent."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return (
            TemporaryFailure if codes and all(400 <= c < 500 for c in codes) else PermanentFailure
        )
    if isinstance(error, smtplib.SMTPResponseException):
        return TemporaryFailure if 400 <= error.smtp_code < 500 else PermanentFailure
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return TemporaryFailure
    if isinstance(error, smtplib.SMTPException):  # e.g. STARTTLS or AUTH not supported
        return PermanentFailure
    if isinstance(error, socket.timeout | TimeoutError | ConnectionError | OSError):
        return TemporaryFailure
    return PermanentFailure


def _lock(batch_id: int) -> bool:
    now = timezone.now()
    return bool(
        NoticeBatch.objects.filter(pk=batch_id, status=NoticeBatch.Status.PENDING)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + timedelta(seconds=SEND_LOCK_SECONDS), attempts=F("attempts") + 1)
    )


def _context(batch: NoticeBatch) -> dict[str, object]:
    notices = list(batch.notices.order_by("created_at", "pk")[: MAIL_MAX_NOTICES + 1])
    total = batch.notices.count()
    counts = dict.fromkeys(ProductNotice.Action.values, 0)
    for action in batch.notices.values_list("action", flat=True):
        counts[action] += 1
    return {
        "batch": batch,
        "notices": notices[:MAIL_MAX_NOTICES],
        "total": total,
        "more": max(0, total - MAIL_MAX_NOTICES),
        "created": counts[ProductNotice.Action.CREATED],
        "updated": counts[ProductNotice.Action.UPDATED],
        "deleted": counts[ProductNotice.Action.DELETED],
        "site_url": settings.SITE_URL,
    }


def deliver_batch(batch_id: int, *, final_attempt: bool = False) -> str:
    """Send one batch's mail once. Returns what happened; raises TemporaryFailure to retry."""
    if not _lock(batch_id):
        return "skipped"  # sent, failed, or another worker is sending it right now
    batch = NoticeBatch.objects.get(pk=batch_id)
    pending = NoticeBatch.objects.filter(pk=batch_id, status=NoticeBatch.Status.PENDING)
    recipients = admin_addresses()
    if not recipients:
        pending.update(
            status=NoticeBatch.Status.SENT,
            sent_at=timezone.now(),
            locked_until=None,
            last_error="No active admin with an e-mail address; nothing sent.",
        )
        return "no recipients"
    try:
        send_templated_mail(template=TEMPLATE, context=_context(batch), to=recipients)
    except Exception as error:
        kind = classify_smtp_error(error)
        message = f"{type(error).__name__}: {error}"[:2000]
        if kind is TemporaryFailure and not final_attempt:
            pending.update(locked_until=None, last_error=message)
            logger.warning("notice batch %d: temporary failure, will retry: %s", batch_id, message)
            raise TemporaryFailure(message) from error
        pending.update(status=NoticeBatch.Status.FAILED, locked_until=None, last_error=message)
        logger.error("notice batch %d failed: %s", batch_id, message)
        raise PermanentFailure(message) from error
    pending.update(
        status=NoticeBatch.Status.SENT,
        sent_at=timezone.now(),
        locked_until=None,
        recipients=", ".join(recipients),
        last_error="",
    )
    return "sent"


@shared_task(name="pricewatch.catalog.send_notice_batch", base=ExternalTask, bind=True)
def send_notice_batch(self: ExternalTask, batch_id: int) -> str:
    """Mail one batch of product notices to the admins (retried on temporary SMTP trouble)."""
    final = self.request.retries >= (self.max_retries or 0)
    return deliver_batch(batch_id, final_attempt=final)
