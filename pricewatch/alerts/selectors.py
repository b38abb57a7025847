"""Reads of alerts, always scoped to one user (another user's rows are simply not found)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from pricewatch.accounts.models import User
from pricewatch.alerts.models import AlertRule, Channel, Notification
from pricewatch.core.errors import DomainError
from pricewatch.tracking.models import WatchItem


def _not_found(what: str, pk: int) -> DomainError:
    return DomainError(f"You have no {what} with id {pk}.", code="not_found", status=404)


def rules_for(
    user: User, *, item_id: int | None = None, watchlist_id: int | None = None
) -> QuerySet[AlertRule]:
    rules = AlertRule.objects.filter(owner=user).order_by("id")
    if item_id is not None:
        rules = rules.filter(item_id=item_id)
    if watchlist_id is not None:
        rules = rules.filter(watchlist_id=watchlist_id)
    return rules


def rules_applying_to(user: User, item: WatchItem) -> list[AlertRule]:
    """The rules that apply to an item: its own, its list's, and those for all items."""
    return list(
        rules_for(user)
        .filter(
            Q(item_id=item.pk) | Q(watchlist_id=item.watchlist_id) | Q(scope=AlertRule.Scope.ALL)
        )
        .select_related("item__offer")
    )


def rule_for(user: User, rule_id: int) -> AlertRule:
    rule = AlertRule.objects.filter(owner=user, pk=rule_id).select_related("item").first()
    if rule is None:
        raise _not_found("alert rule", rule_id)
    return rule


def channels_for(user: User) -> QuerySet[Channel]:
    return Channel.objects.filter(owner=user).select_related("owner").order_by("id")


def channel_for(user: User, channel_id: int) -> Channel:
    channel = channels_for(user).filter(pk=channel_id).first()
    if channel is None:
        raise _not_found("channel", channel_id)
    return channel


def notifications_for(
    user: User,
    *,
    status: str | None = None,
    rule_id: int | None = None,
    channel_id: int | None = None,
) -> QuerySet[Notification]:
    notifications = (
        Notification.objects.filter(owner=user)
        .select_related("channel", "offer")
        .order_by("-created_at", "-id")
    )
    if status:
        notifications = notifications.filter(status=status)
    if rule_id is not None:
        notifications = notifications.filter(rule_id=rule_id)
    if channel_id is not None:
        notifications = notifications.filter(channel_id=channel_id)
    return notifications


def notification_for(user: User, notification_id: int) -> Notification:
    notification = notifications_for(user).filter(pk=notification_id).first()
    if notification is None:
        raise _not_found("notification", notification_id)
    return notification
