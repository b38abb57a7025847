"""Deliver alert notifications: the database is the queue, claimed through `core.delivery`.

The crash window is that of `core.delivery`: a row left in `sending` by a worker that died is
failed as interrupted when its lease runs out, never sent twice (the user can resend it).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from pricewatch.alerts import channels, content, timing
from pricewatch.alerts.models import Channel, Notification
from pricewatch.core import delivery as core_delivery
from pricewatch.core.errors import PermanentFailure, TemporaryFailure

logger = logging.getLogger(__name__)

BATCH = 100
MAX_ATTEMPTS = 8


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
    rows = Notification.objects.filter(id__in=list(ids))
    token = core_delivery.claim(rows, now=now)
    claimed = core_delivery.claimed(rows, token).select_related("owner", "channel", "rule", "offer")
    return token, list(claimed.order_by("id"))


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
        core_delivery.finish(Notification.objects.filter(id__in=self.ids), self.token)
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
    core_delivery.finish(
        Notification.objects.filter(id=notification.pk), token, status=status, error=error
    )


def _failed(
    notifications: list[Notification], token: str, exc: TemporaryFailure | PermanentFailure
) -> Outcome:
    now = timezone.now()
    outcome = Outcome()
    for notification in notifications:
        final = core_delivery.release(
            Notification.objects.filter(id=notification.pk),
            token,
            exc,
            final=notification.attempts >= MAX_ATTEMPTS,
            retry_at=now + timing.retry_delay(notification.attempts),
        )
        if final:
            outcome.failed += 1
        else:
            outcome.retrying += 1
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
    return core_delivery.expire_interrupted(Notification.objects.all(), now=now)
