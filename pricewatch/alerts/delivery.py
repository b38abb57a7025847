"""Deliver notifications exactly once: the database is the queue.

A notification is claimed with one conditional UPDATE (queued → sending, stamped with a claim
token), so two workers, a retry and a duplicate task never take the same row. Each message is
marked sent right after the server accepted it. Temporary failures go back to `queued` with a
later `due_at` (exponential backoff with jitter, kept in the row so it survives restarts);
permanent ones fail at once with the server's answer.

The crash window: a worker that dies after the SMTP server accepted a message but before the row
says "sent" leaves the row in `sending`. When its lease runs out, the row is marked failed with
an "interrupted" error instead of being sent again: we prefer a rare visible "may not have been
delivered — resend?" to a duplicate alert (at most once, and the user can resend).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, QuerySet
from django.utils import timezone

from pricewatch.alerts import channels, content, timing
from pricewatch.alerts.models import Channel, Notification
from pricewatch.core.errors import PermanentFailure, TemporaryFailure

logger = logging.getLogger(__name__)

BATCH = 100
LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 8
INTERRUPTED = (
    "Delivery was interrupted (the worker stopped) after the message may already have been "
    "handed to the server. Not retried automatically, to avoid a duplicate: resend it if it "
    "did not arrive."
)


@dataclass(slots=True)
class Outcome:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    muted: int = 0

    def add(self, other: Outcome) -> None:
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.muted += other.muted


def due(now: datetime | None = None) -> QuerySet[Notification]:
    now = now or timezone.now()
    return Notification.objects.filter(status=Notification.Status.QUEUED, due_at__lte=now)


def claim(ids: Iterable[int], *, now: datetime | None = None) -> tuple[str, list[Notification]]:
    """Take the rows among `ids` that are still queued and due; return them with the claim."""
    now = now or timezone.now()
    token = uuid.uuid4().hex
    wanted = list(ids)
    if not wanted:
        return token, []
    due(now).filter(id__in=wanted).update(
        status=Notification.Status.SENDING,
        claim=token,
        lease_until=now + LEASE,
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    rows = list(
        Notification.objects.filter(claim=token, status=Notification.Status.SENDING)
        .select_related("owner", "channel", "rule", "offer")
        .order_by("id")
    )
    return token, rows


def deliver_due(*, max_batches: int = 50) -> Outcome:
    """Send what is due: single alerts in batches (one SMTP connection each), then digests."""
    outcome = Outcome()
    for _ in range(max_batches):
        ids = list(
            due().filter(digest=False).order_by("due_at").values_list("id", flat=True)[:BATCH]
        )
        if not ids:
            break
        outcome.add(deliver(ids))
    outcome.add(deliver_digests())
    return outcome


class SentMarks:
    """Rows whose message the server accepted, marked sent a few at a time.

    Marking in small groups saves a commit per message. It does not widen the duplicate risk:
    a row left in `sending` by a crash is never sent again (see the module doc).
    """

    def __init__(self, token: str, every: int = 20) -> None:
        self.token = token
        self.every = every
        self.ids: list[int] = []

    def add(self, notification_id: int) -> None:
        self.ids.append(notification_id)
        if len(self.ids) >= self.every:
            self.flush()

    def flush(self) -> None:
        if not self.ids:
            return
        now = timezone.now()
        Notification.objects.filter(id__in=self.ids, claim=self.token).update(
            status=Notification.Status.SENT,
            sent_at=now,
            last_error="",
            lease_until=None,
            updated_at=now,
        )
        self.ids = []


def deliver(ids: Iterable[int]) -> Outcome:
    token, rows = claim(ids)
    outcome = Outcome()
    marks = SentMarks(token)
    try:
        with channels.MailSession() as mail:
            for notification in rows:
                outcome.add(_deliver_one(notification, token, mail, marks))
    finally:
        marks.flush()
    return outcome


def _deliver_one(
    notification: Notification,
    token: str,
    mail: channels.MailSession,
    marks: SentMarks | None = None,
) -> Outcome:
    reason = _muted_reason(notification)
    if reason:
        _finish(notification, token, status=Notification.Status.MUTED, error=reason)
        return Outcome(muted=1)
    channel = notification.channel
    assert channel is not None
    try:
        if channel.kind == Channel.Kind.EMAIL:
            mail.send(content.alert_email(notification, _address(channel)))
        else:
            title, body = content.apprise_text(notification)
            channels.send_apprise(channel.target, title=title, body=body)
    except (TemporaryFailure, PermanentFailure) as exc:
        return _failed([notification], token, exc)
    except Exception as exc:  # a bug must not leave the row claimed until its lease runs out
        logger.exception("delivering notification %s failed", notification.pk)
        return _failed([notification], token, TemporaryFailure(f"{type(exc).__name__}: {exc}"))
    if marks is None:
        _finish(notification, token, status=Notification.Status.SENT)
    else:
        marks.add(notification.pk)
    return Outcome(sent=1)


def deliver_digests(now: datetime | None = None) -> Outcome:
    """One mail per channel bundling its due digest notifications."""
    now = now or timezone.now()
    by_channel: dict[int, list[int]] = defaultdict(list)
    for notification_id, channel_id in due(now).filter(digest=True).values_list("id", "channel_id"):
        by_channel[channel_id].append(notification_id)
    outcome = Outcome()
    with channels.MailSession() as mail:
        for ids in by_channel.values():
            token, rows = claim(ids, now=now)
            live = []
            for notification in rows:
                reason = _muted_reason(notification)
                if reason:
                    _finish(notification, token, status=Notification.Status.MUTED, error=reason)
                    outcome.muted += 1
                else:
                    live.append(notification)
            if not live:
                continue
            channel = live[0].channel
            assert channel is not None
            try:
                mail.send(content.digest_email(live, _address(channel)))
            except (TemporaryFailure, PermanentFailure) as exc:
                outcome.add(_failed(live, token, exc))
                continue
            for notification in live:
                _finish(notification, token, status=Notification.Status.SENT)
            outcome.sent += len(live)
    return outcome


def _address(channel: Channel) -> str:
    return channel.target or channel.owner.email


def _muted_reason(notification: Notification) -> str:
    if notification.rule is None:
        return "The rule was deleted."
    if not notification.rule.enabled:
        return "The rule is muted."
    if notification.channel is None:
        return "The channel was deleted."
    if not notification.channel.enabled:
        return "The channel is turned off."
    if not notification.owner.is_active:
        return "The account is inactive."
    return ""


def _finish(notification: Notification, token: str, *, status: str, error: str = "") -> None:
    now = timezone.now()
    Notification.objects.filter(id=notification.pk, claim=token).update(
        status=status,
        sent_at=now if status == Notification.Status.SENT else None,
        last_error=error,
        lease_until=None,
        updated_at=now,
    )


def _failed(
    notifications: list[Notification], token: str, exc: TemporaryFailure | PermanentFailure
) -> Outcome:
    now = timezone.now()
    outcome = Outcome()
    for notification in notifications:
        final = isinstance(exc, PermanentFailure) or notification.attempts >= MAX_ATTEMPTS
        update = {
            "last_error": str(exc)[:2000],
            "lease_until": None,
            "updated_at": now,
        }
        if final:
            update["status"] = Notification.Status.FAILED
            outcome.failed += 1
        else:
            update["status"] = Notification.Status.QUEUED
            update["due_at"] = now + timing.retry_delay(notification.attempts)
            outcome.retrying += 1
        Notification.objects.filter(id=notification.pk, claim=token).update(**update)
        logger.warning(
            "notification %s attempt %s %s: %s",
            notification.pk,
            notification.attempts,
            "failed" if final else "will be retried",
            exc,
        )
    return outcome


def expire_interrupted(now: datetime | None = None) -> int:
    """Rows left in `sending` by a worker that died: failed, not resent (see the module doc)."""
    now = now or timezone.now()
    return Notification.objects.filter(
        status=Notification.Status.SENDING, lease_until__lt=now
    ).update(status=Notification.Status.FAILED, last_error=INTERRUPTED, lease_until=None)
