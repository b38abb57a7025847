"""Alert rules, channels, notifications and delivery settings: /api/v1/alert-rules,
/api/v1/channels, /api/v1/notifications, /api/v1/alert-settings. Everything is the caller's own;
another user's rows answer 404."""

from __future__ import annotations

import math
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from pricewatch.accounts.models import User
from pricewatch.alerts import selectors, services
from pricewatch.alerts.models import AlertPreferences, AlertRule, Channel, Notification
from pricewatch.alerts.schemas import (
    AlertRuleIn,
    AlertRuleOut,
    AlertRulePage,
    AlertRulePatch,
    AlertSettingsOut,
    AlertSettingsPatch,
    ChannelIn,
    ChannelOut,
    ChannelPage,
    ChannelPatch,
    ChannelTestOut,
    NotificationOut,
    NotificationPage,
)
from pricewatch.core.api import ErrorOut
from pricewatch.core.auth import access_token
from pricewatch.core.errors import DomainError

router = Router(tags=["alerts"], auth=access_token)
ERRORS: dict[int, type[Schema]] = {
    400: ErrorOut,
    401: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
}
M = TypeVar("M", bound=Model)
NOT_NULL = ("kind", "scope", "enabled", "name")


class PageQuery(Schema):
    page: int = Field(default=1, ge=1)
    page_size: int = Field(default=20, ge=1, le=100)


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _changes(payload: Schema) -> dict[str, Any]:
    data = payload.model_dump(exclude_unset=True)
    for name in NOT_NULL:
        if name in data and data[name] is None:
            message = "This field may not be null."
            raise DomainError(
                f"Invalid input — {name}: {message}",
                code="invalid",
                status=422,
                fields={name: message},
            )
    return data


def paginate(request: HttpRequest, rows: QuerySet[M], query: PageQuery) -> dict[str, Any]:
    count = rows.count()
    pages = max(1, math.ceil(count / query.page_size))
    start = (query.page - 1) * query.page_size
    items = list(rows[start : start + query.page_size]) if start < count else []

    def link(page: int) -> str:
        params = request.GET.copy()
        params["page"] = str(page)
        params["page_size"] = str(query.page_size)
        return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

    return {
        "items": items,
        "count": count,
        "page": query.page,
        "pages": pages,
        "next": link(query.page + 1) if query.page < pages else None,
        "previous": link(query.page - 1) if 1 < query.page <= pages else None,
    }


# --- rules -------------------------------------------------------------------------------------


@router.get("/alert-rules", response={200: AlertRulePage, **ERRORS}, summary="Your alert rules")
def list_rules(
    request: HttpRequest,
    page: Query[PageQuery],
    item_id: int | None = None,
    watchlist_id: int | None = None,
) -> dict[str, Any]:
    user = _user(request)
    services.ensure_defaults(user=user)
    rules = selectors.rules_for(user, item_id=item_id, watchlist_id=watchlist_id)
    return paginate(request, rules, page)


@router.post("/alert-rules", response={201: AlertRuleOut, **ERRORS}, summary="Create an alert rule")
def create_rule(request: HttpRequest, payload: AlertRuleIn) -> Status:
    return Status(201, services.create_rule(owner=_user(request), **payload.model_dump()))


@router.get("/alert-rules/{rule_id}", response={200: AlertRuleOut, **ERRORS}, summary="A rule")
def get_rule(request: HttpRequest, rule_id: int) -> AlertRule:
    return selectors.rule_for(_user(request), rule_id)


@router.patch(
    "/alert-rules/{rule_id}",
    response={200: AlertRuleOut, **ERRORS},
    summary="Change a rule (enabled=false mutes it)",
)
def patch_rule(request: HttpRequest, rule_id: int, payload: AlertRulePatch) -> AlertRule:
    rule = selectors.rule_for(_user(request), rule_id)
    return services.update_rule(rule=rule, **_changes(payload))


@router.delete("/alert-rules/{rule_id}", response={204: None, **ERRORS}, summary="Delete a rule")
def delete_rule(request: HttpRequest, rule_id: int) -> Status:
    services.delete_rule(rule=selectors.rule_for(_user(request), rule_id))
    return Status(204, None)


# --- channels ----------------------------------------------------------------------------------


@router.get("/channels", response={200: ChannelPage, **ERRORS}, summary="Where your alerts go")
def list_channels(request: HttpRequest, page: Query[PageQuery]) -> dict[str, Any]:
    user = _user(request)
    services.ensure_defaults(user=user)
    return paginate(request, selectors.channels_for(user), page)


@router.post(
    "/channels",
    response={201: ChannelOut, **ERRORS},
    summary="Add an e-mail address or an Apprise URL (validated; 422 says why not)",
)
def create_channel(request: HttpRequest, payload: ChannelIn) -> Status:
    return Status(201, services.create_channel(owner=_user(request), **payload.model_dump()))


@router.get("/channels/{channel_id}", response={200: ChannelOut, **ERRORS}, summary="A channel")
def get_channel(request: HttpRequest, channel_id: int) -> Channel:
    return selectors.channel_for(_user(request), channel_id)


@router.patch(
    "/channels/{channel_id}", response={200: ChannelOut, **ERRORS}, summary="Change a channel"
)
def patch_channel(request: HttpRequest, channel_id: int, payload: ChannelPatch) -> Channel:
    channel = selectors.channel_for(_user(request), channel_id)
    return services.update_channel(channel=channel, **_changes(payload))


@router.delete("/channels/{channel_id}", response={204: None, **ERRORS}, summary="Remove a channel")
def delete_channel(request: HttpRequest, channel_id: int) -> Status:
    services.delete_channel(channel=selectors.channel_for(_user(request), channel_id))
    return Status(204, None)


@router.post(
    "/channels/{channel_id}/test",
    response={200: ChannelTestOut, **ERRORS},
    summary="Send a test notification now",
)
def test_channel(request: HttpRequest, channel_id: int) -> dict[str, Any]:
    channel = selectors.channel_for(_user(request), channel_id)
    error = services.test_channel(channel=channel)
    return {"ok": not error, "error": error}


# --- notifications -----------------------------------------------------------------------------


@router.get(
    "/notifications",
    response={200: NotificationPage, **ERRORS},
    summary="Alerts sent (or tried), newest first",
)
def list_notifications(
    request: HttpRequest,
    page: Query[PageQuery],
    status: Notification.Status | None = None,
    rule_id: int | None = None,
    channel_id: int | None = None,
) -> dict[str, Any]:
    rows = selectors.notifications_for(
        _user(request), status=status, rule_id=rule_id, channel_id=channel_id
    )
    return paginate(request, rows, page)


@router.get(
    "/notifications/{notification_id}",
    response={200: NotificationOut, **ERRORS},
    summary="One notification and its delivery",
)
def get_notification(request: HttpRequest, notification_id: int) -> Notification:
    return selectors.notification_for(_user(request), notification_id)


@router.post(
    "/notifications/{notification_id}/resend",
    response={200: NotificationOut, **ERRORS},
    summary="Send a failed notification again",
)
def resend_notification(request: HttpRequest, notification_id: int) -> Notification:
    notification = selectors.notification_for(_user(request), notification_id)
    services.resend_notification(notification=notification)
    return selectors.notification_for(_user(request), notification_id)


# --- settings ----------------------------------------------------------------------------------


@router.get(
    "/alert-settings", response={200: AlertSettingsOut, **ERRORS}, summary="Quiet hours, digest"
)
def get_settings(request: HttpRequest) -> AlertPreferences:
    return services.ensure_defaults(user=_user(request))


@router.patch(
    "/alert-settings",
    response={200: AlertSettingsOut, **ERRORS},
    summary="Set quiet hours (local times, null to clear) and the daily digest",
)
def patch_settings(request: HttpRequest, payload: AlertSettingsPatch) -> AlertPreferences:
    data = _changes(payload)
    if data.get("digest", True) is None or ("digest_hour" in data and data["digest_hour"] is None):
        raise DomainError(
            "Invalid input — digest and digest_hour may not be null.",
            code="invalid",
            status=422,
            fields={"digest": "This field may not be null."},
        )
    return services.update_preferences(user=_user(request), **data)
