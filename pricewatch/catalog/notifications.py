"""Batched mail to the admins about products edited through the API, and the import mail.

Edits leave ProductNotices; the dispatcher gathers the due ones into one NoticeBatch with a
conditional UPDATE and queues its mail. Both mails are sent at most once through
`core.delivery`, keyed by the batch or the import job.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Final

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from pricewatch.accounts.models import User
from pricewatch.catalog import imports
from pricewatch.catalog.models import ImportJob, NoticeBatch, ProductNotice
from pricewatch.core import delivery as core_delivery
from pricewatch.core.errors import PermanentFailure, TemporaryFailure
from pricewatch.core.mail import send_templated_mail
from pricewatch.core.models import DeliveryStatus
from pricewatch.core.tasks import ExternalTask

logger = logging.getLogger(__name__)

TEMPLATE: Final = "catalog/email/product_notices"
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
    )
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


def batch_key(batch_id: int) -> str:
    return f"notice-batch:{batch_id}"


def deliver_batch(batch_id: int, *, final_attempt: bool = False) -> str:
    """Send one batch's mail once. Returns what happened; raises TemporaryFailure to retry."""
    if not NoticeBatch.objects.filter(pk=batch_id, status=NoticeBatch.Status.PENDING).exists():
        return "skipped"
    recipients: list[str] = []

    def send() -> int:
        recipients.extend(admin_addresses())
        if not recipients:
            return 0
        batch = NoticeBatch.objects.get(pk=batch_id)
        return send_templated_mail(template=TEMPLATE, context=_context(batch), to=recipients)

    try:
        sent = core_delivery.send_once(batch_key(batch_id), send, final_attempt=final_attempt)
    except (TemporaryFailure, PermanentFailure) as failure:
        _record(batch_id)
        logger.warning("notice batch %d not sent: %s", batch_id, failure)
        raise
    _record(batch_id)
    if sent is None:
        return "skipped"  # sent, failed, or another worker is sending it right now
    if not recipients:
        NoticeBatch.objects.filter(pk=batch_id).update(
            last_error="No active admin with an e-mail address; nothing sent."
        )
        return "no recipients"
    NoticeBatch.objects.filter(pk=batch_id).update(recipients=", ".join(recipients))
    return "sent"


_BATCH_STATUS: Final = {
    DeliveryStatus.QUEUED: NoticeBatch.Status.PENDING,
    DeliveryStatus.SENDING: NoticeBatch.Status.PENDING,
    DeliveryStatus.SENT: NoticeBatch.Status.SENT,
    DeliveryStatus.FAILED: NoticeBatch.Status.FAILED,
}


def _record(batch_id: int) -> None:
    """Show the delivery's state on the batch, where the admin pages read it."""
    delivery = core_delivery.state(batch_key(batch_id))
    if delivery is None:
        return
    NoticeBatch.objects.filter(pk=batch_id).update(
        status=_BATCH_STATUS[DeliveryStatus(delivery.status)],
        attempts=delivery.attempts,
        last_error=delivery.last_error,
        sent_at=delivery.sent_at,
        locked_until=None,
    )


@shared_task(name="pricewatch.catalog.send_notice_batch", base=ExternalTask, bind=True)
def send_notice_batch(self: ExternalTask, batch_id: int) -> str:
    """Mail one batch of product notices to the admins (retried on temporary SMTP trouble)."""
    final = self.request.retries >= (self.max_retries or 0)
    return deliver_batch(batch_id, final_attempt=final)


MAIL_REJECTIONS: Final = 20


def import_mail_key(job_id: int) -> str:
    return f"import-mail:{job_id}"


def notify_admins(job_id: int, *, final_attempt: bool = False) -> int:
    """Mail a finished job's summary to every active staff user, once; returns mails sent."""
    finished = [ImportJob.Status.SUCCEEDED, ImportJob.Status.FAILED]
    # A job with `notified_at` was mailed (before deliveries were kept in core.Delivery too).
    due = ImportJob.objects.filter(pk=job_id, status__in=finished, notified_at__isnull=True)
    if not due.exists():
        return 0
    sent = core_delivery.send_once(
        import_mail_key(job_id), lambda: _send_import_mail(job_id), final_attempt=final_attempt
    )
    if sent is None:
        return 0
    due.update(notified_at=timezone.now())
    return sent


def _send_import_mail(job_id: int) -> int:
    job = ImportJob.objects.get(pk=job_id)
    recipients = list(
        User.objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .order_by("pk")
        .values_list("email", flat=True)
    )
    if not recipients:
        return 0
    failed = job.status == ImportJob.Status.FAILED
    context: dict[str, object] = {
        "job": job,
        "counts": imports.summary(job),
        "rejections": [] if failed else imports.first_rejections(job, MAIL_REJECTIONS),
        "more_rejections": max(0, job.rejected_count - MAIL_REJECTIONS),
        "url": f"{settings.SITE_URL}/api/v1/imports/{job.pk}",
    }
    template = "catalog/email/import_failed" if failed else "catalog/email/import_finished"
    return send_templated_mail(template=template, context=context, to=recipients)
