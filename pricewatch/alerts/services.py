"""Every write to alerts: rules, channels, preferences, muting, resending."""

from __future__ import annotations

import logging
from datetime import time
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from pricewatch.accounts.models import User
from pricewatch.alerts import channels, content, evaluation, links, tasks
from pricewatch.alerts.models import AlertPreferences, AlertRule, Channel, Notification
from pricewatch.core.errors import (
    Conflict,
    DomainError,
    ModelT,
    PermanentFailure,
    TemporaryFailure,
)
from pricewatch.tracking.models import WatchItem, Watchlist

logger = logging.getLogger(__name__)

MAX_DAYS = 365
MAX_COOLDOWN_MINUTES = 366 * 24 * 60
MAX_RULES = 1000
MAX_CHANNELS = 20
UNSET: Any = object()


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(message, code="invalid", status=422, fields={field: message})


def ensure_defaults(*, user: User) -> AlertPreferences:
    """The user's preferences; the first call also creates the default 30 % rule and an
    e-mail channel to the account address."""
    preferences = AlertPreferences.objects.filter(user=user).first()
    if preferences is None:
        evaluation.ensure_defaults([user.pk])
        preferences = AlertPreferences.objects.get(user=user)
    return preferences


# --- rules -------------------------------------------------------------------------------------


def _validate_rule(rule: AlertRule) -> None:
    kind = rule.kind
    if kind in {AlertRule.Kind.DROP_FROM_FIRST, AlertRule.Kind.DROP_FROM_PREVIOUS}:
        if rule.percent is None:
            raise _invalid("percent", "A drop rule needs a percentage (1-99).")
        if not Decimal(0) < rule.percent < Decimal(100):
            raise _invalid("percent", "The percentage must be more than 0 and less than 100.")
    elif rule.percent is not None:
        raise _invalid("percent", f"A {kind} rule takes no percentage.")
    if kind == AlertRule.Kind.LOWEST_IN_DAYS:
        if rule.days is None or not 1 <= rule.days <= MAX_DAYS:
            raise _invalid("days", f"A lowest-price rule needs a number of days (1-{MAX_DAYS}).")
    elif rule.days is not None:
        raise _invalid("days", f"A {kind} rule takes no number of days.")
    if kind == AlertRule.Kind.TARGET_PRICE:
        if rule.target_price is not None and rule.target_price < 0:
            raise _invalid("target_price", "The target price must not be negative.")
        if rule.target_price is None and rule.scope == AlertRule.Scope.ITEM:
            assert rule.item is not None
            if rule.item.target_price is None:
                raise _invalid(
                    "target_price",
                    "Give a target price, or set one on the item: this rule has nothing to "
                    "compare with.",
                )
    elif rule.target_price is not None:
        raise _invalid("target_price", f"A {kind} rule takes no target price.")
    if rule.cooldown_minutes is not None and not 1 <= rule.cooldown_minutes <= MAX_COOLDOWN_MINUTES:
        raise _invalid(
            "cooldown_minutes", f"The cooldown must be 1 to {MAX_COOLDOWN_MINUTES} minutes."
        )


def _scope(
    rule: AlertRule, *, owner: User, scope: str, item_id: int | None, watchlist_id: int | None
) -> None:
    rule.scope = scope
    rule.item = _scope_target(
        scope,
        AlertRule.Scope.ITEM,
        "item_id",
        item_id,
        WatchItem.objects.filter(watchlist__owner=owner),
        one="item",
        noun="watch item",
    )
    rule.watchlist = _scope_target(
        scope,
        AlertRule.Scope.WATCHLIST,
        "watchlist_id",
        watchlist_id,
        Watchlist.objects.filter(owner=owner),
        one="watchlist",
        noun="watchlist",
    )


def _scope_target(
    scope: str,
    wanted: str,
    field: str,
    pk: int | None,
    rows: QuerySet[ModelT],
    *,
    one: str,
    noun: str,
) -> ModelT | None:
    """The owner's row a rule of `wanted` scope points at; `field` must be given exactly then."""
    if scope != wanted:
        if pk is not None:
            raise _invalid(field, f"A rule with scope '{scope}' takes no {field}.")
        return None
    if pk is None:
        raise _invalid(field, f"A rule for one {one} needs {field}.")
    found = rows.filter(pk=pk).first()
    if found is None:
        raise _invalid(field, f"You have no {noun} with id {pk}.")
    return found


def create_rule(
    *,
    owner: User,
    kind: str,
    scope: str,
    item_id: int | None = None,
    watchlist_id: int | None = None,
    percent: Decimal | None = None,
    target_price: Decimal | None = None,
    days: int | None = None,
    cooldown_minutes: int | None = None,
    enabled: bool = True,
) -> AlertRule:
    ensure_defaults(user=owner)
    if AlertRule.objects.filter(owner=owner).count() >= MAX_RULES:
        raise DomainError(f"You can have at most {MAX_RULES} alert rules.", code="too_many")
    rule = AlertRule(
        owner=owner,
        kind=kind,
        percent=percent,
        target_price=target_price,
        days=days,
        cooldown_minutes=cooldown_minutes,
        enabled=enabled,
    )
    _scope(rule, owner=owner, scope=scope, item_id=item_id, watchlist_id=watchlist_id)
    _validate_rule(rule)
    rule.save()
    rule.refresh_from_db()  # decimals as stored (e.g. "30.00"), not as typed
    return rule


def update_rule(
    *,
    rule: AlertRule,
    kind: str = UNSET,
    scope: str = UNSET,
    item_id: int | None = UNSET,
    watchlist_id: int | None = UNSET,
    percent: Decimal | None = UNSET,
    target_price: Decimal | None = UNSET,
    days: int | None = UNSET,
    cooldown_minutes: int | None = UNSET,
    enabled: bool = UNSET,
) -> AlertRule:
    """Change a rule. Changing what it watches or what it checks starts its state afresh."""
    owner = rule.owner
    before = (
        rule.kind,
        rule.scope,
        rule.item_id,
        rule.watchlist_id,
        rule.percent,
        rule.target_price,
        rule.days,
    )
    if kind is not UNSET:
        rule.kind = kind
    for name, value in (
        ("percent", percent),
        ("target_price", target_price),
        ("days", days),
        ("cooldown_minutes", cooldown_minutes),
    ):
        if value is not UNSET:
            setattr(rule, name, value)
    if scope is not UNSET or item_id is not UNSET or watchlist_id is not UNSET:
        _scope(
            rule,
            owner=owner,
            scope=rule.scope if scope is UNSET else scope,
            item_id=rule.item_id if item_id is UNSET else item_id,
            watchlist_id=rule.watchlist_id if watchlist_id is UNSET else watchlist_id,
        )
    _validate_rule(rule)
    if enabled is not UNSET and enabled != rule.enabled:
        rule.enabled = enabled
        rule.muted_at = None if enabled else timezone.now()
    after = (
        rule.kind,
        rule.scope,
        rule.item_id,
        rule.watchlist_id,
        rule.percent,
        rule.target_price,
        rule.days,
    )
    with transaction.atomic():
        rule.save()
        if before != after:
            rule.states.all().delete()
    rule.refresh_from_db()
    return rule


def delete_rule(*, rule: AlertRule) -> None:
    # Its notifications stay in the history (rule set to null); queued ones will not be sent.
    rule.delete()


def mute_rule(*, rule: AlertRule) -> AlertRule:
    """Silence a rule (the mail's mute link): nothing more is sent for it until re-enabled."""
    now = timezone.now()
    with transaction.atomic():
        if rule.enabled:
            rule.enabled = False
            rule.muted_at = now
            rule.save(update_fields=["enabled", "muted_at", "updated_at"])
        Notification.objects.filter(rule=rule, status=Notification.Status.QUEUED).update(
            status=Notification.Status.MUTED, last_error="The rule was muted.", updated_at=now
        )
    logger.info("alert rule %s muted", rule.pk)
    return rule


def rule_from_mute_token(token: str) -> AlertRule | None:
    rule_id = links.rule_id_from_token(token)
    if rule_id is None:
        return None
    return (
        AlertRule.objects.select_related("owner", "item__offer", "watchlist")
        .filter(pk=rule_id)
        .first()
    )


# --- channels ----------------------------------------------------------------------------------


def _clean_target(kind: str, target: str) -> str:
    if kind == Channel.Kind.EMAIL:
        return channels.clean_email_address(target)
    if kind == Channel.Kind.APPRISE:
        return channels.clean_apprise_url(target)
    raise _invalid("kind", f"Unknown channel kind '{kind}'.")


def create_channel(
    *, owner: User, kind: str, target: str, name: str = "", enabled: bool = True
) -> Channel:
    ensure_defaults(user=owner)
    if Channel.objects.filter(owner=owner).count() >= MAX_CHANNELS:
        raise DomainError(f"You can have at most {MAX_CHANNELS} channels.", code="too_many")
    cleaned = _clean_target(kind, target)
    _refuse_duplicate(owner=owner, kind=kind, target=cleaned)
    return Channel.objects.create(
        owner=owner, kind=kind, target=cleaned, name=name.strip(), enabled=enabled
    )


def _refuse_duplicate(*, owner: User, kind: str, target: str, exclude: int | None = None) -> None:
    same = Channel.objects.filter(owner=owner, kind=kind, target=target)
    if exclude is not None:
        same = same.exclude(pk=exclude)
    if same.exists():
        where = target or "your account address"
        raise Conflict(f"You already have a channel for {where}.", code="duplicate")


def update_channel(
    *, channel: Channel, target: str = UNSET, name: str = UNSET, enabled: bool = UNSET
) -> Channel:
    if target is not UNSET:
        channel.target = _clean_target(channel.kind, target)
        _refuse_duplicate(
            owner=channel.owner, kind=channel.kind, target=channel.target, exclude=channel.pk
        )
    if name is not UNSET:
        channel.name = name.strip()
    if enabled is not UNSET:
        channel.enabled = enabled
    channel.save()
    return channel


def delete_channel(*, channel: Channel) -> None:
    channel.delete()


def test_channel(*, channel: Channel) -> str:
    """Send a test notification now; returns "" or the reason it failed (also kept on the
    channel)."""
    error = ""
    try:
        if channel.kind == Channel.Kind.EMAIL:
            with channels.MailSession() as mail:
                mail.send(content.test_email(channel.target or channel.owner.email))
        else:
            channels.send_apprise(
                channel.target,
                title="pricewatch test notification",
                body="Price alerts will reach you here.",
            )
    except (TemporaryFailure, PermanentFailure) as exc:
        error = str(exc)
    channel.last_tested_at = timezone.now()
    channel.last_test_error = error
    channel.save(update_fields=["last_tested_at", "last_test_error", "updated_at"])
    return error


# --- preferences -------------------------------------------------------------------------------


def update_preferences(
    *,
    user: User,
    quiet_start: time | None = UNSET,
    quiet_end: time | None = UNSET,
    digest: bool = UNSET,
    digest_hour: int = UNSET,
) -> AlertPreferences:
    preferences = ensure_defaults(user=user)
    if quiet_start is not UNSET:
        preferences.quiet_start = quiet_start
    if quiet_end is not UNSET:
        preferences.quiet_end = quiet_end
    if (preferences.quiet_start is None) != (preferences.quiet_end is None):
        raise _invalid(
            "quiet_start" if preferences.quiet_start is None else "quiet_end",
            "Quiet hours need both a start and an end (or neither).",
        )
    if digest is not UNSET:
        preferences.digest = digest
    if digest_hour is not UNSET:
        if not 0 <= digest_hour <= 23:
            raise _invalid("digest_hour", "The digest hour must be 0 to 23.")
        preferences.digest_hour = digest_hour
    preferences.save()
    return preferences


# --- notifications -----------------------------------------------------------------------------


def resend_notification(*, notification: Notification) -> Notification:
    """Queue a failed (or muted) notification again, now; its attempts start afresh."""
    if notification.status not in {Notification.Status.FAILED, Notification.Status.MUTED}:
        raise Conflict(
            f"Only failed or muted notifications can be resent; this one is {notification.status}.",
            code="not_resendable",
        )
    if notification.channel_id is None:
        raise Conflict("Its channel was deleted.", code="not_resendable")
    now = timezone.now()
    updated = Notification.objects.filter(pk=notification.pk, status=notification.status).update(
        status=Notification.Status.QUEUED,
        due_at=now,
        attempts=0,
        last_error="",
        claim="",
        digest=False,
        updated_at=now,
    )
    if not updated:
        raise Conflict("The notification changed meanwhile; reload it.", code="conflict")
    notification.refresh_from_db()
    transaction.on_commit(tasks.deliver_notifications.delay)
    return notification
