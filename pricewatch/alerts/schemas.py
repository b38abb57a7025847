from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field, PlainSerializer

from pricewatch.alerts.models import Channel, Notification
from pricewatch.core import money
from pricewatch.core.api import StrictSchema

RuleKind = Literal[
    "drop_from_first", "drop_from_previous", "target_price", "back_in_stock", "lowest_in_days"
]
RuleScope = Literal["item", "watchlist", "all"]
ChannelKind = Literal["email", "apprise"]
Money = Decimal
# Out: the API's money string ("49.90"), the same as every other endpoint's.
MoneyOut = Annotated[Decimal, PlainSerializer(money.decimal_text, return_type=str)]


class AlertRuleIn(StrictSchema):
    kind: RuleKind
    scope: RuleScope = Field(description="item, watchlist or all (every item you watch).")
    item_id: int | None = None
    watchlist_id: int | None = None
    percent: Decimal | None = Field(
        default=None, description="For drop rules: X in 'X % or more'.", examples=["30"]
    )
    target_price: Money | None = Field(
        default=None,
        description="For target rules; empty means each item's own target price.",
        examples=["49.90"],
    )
    days: int | None = Field(default=None, description="For lowest_in_days rules.")
    cooldown_minutes: int | None = Field(
        default=None,
        description="Fire again after this long while the condition stays true; empty: only "
        "after it reset.",
    )
    enabled: bool = True


class AlertRulePatch(StrictSchema):
    kind: RuleKind | None = None
    scope: RuleScope | None = None
    item_id: int | None = None
    watchlist_id: int | None = None
    percent: Decimal | None = None
    target_price: Money | None = None
    days: int | None = None
    cooldown_minutes: int | None = None
    enabled: bool | None = None


class AlertRuleOut(Schema):
    id: int
    kind: str
    scope: str
    item_id: int | None
    watchlist_id: int | None
    percent: Decimal | None
    target_price: MoneyOut | None
    days: int | None
    cooldown_minutes: int | None
    enabled: bool
    muted_at: datetime | None
    is_default: bool
    created_at: datetime
    updated_at: datetime


class ChannelIn(StrictSchema):
    kind: ChannelKind
    target: str = Field(
        default="",
        max_length=2000,
        description="E-mail address (empty: your account address) or Apprise URL, e.g. "
        "'tgram://bottoken/chat_id', 'ntfy://topic', 'discord://webhook_id/token'.",
    )
    name: str = Field(default="", max_length=100)
    enabled: bool = True


class ChannelPatch(StrictSchema):
    target: str | None = Field(default=None, max_length=2000)
    name: str | None = Field(default=None, max_length=100)
    enabled: bool | None = None


class ChannelOut(Schema):
    id: int
    kind: str
    name: str
    target: str
    address: str = Field(description="Where alerts go (the account address for an empty target).")
    enabled: bool
    last_tested_at: datetime | None
    last_test_error: str
    created_at: datetime

    @staticmethod
    def resolve_address(channel: Channel) -> str:
        if channel.kind == Channel.Kind.EMAIL and not channel.target:
            return channel.owner.email
        return channel.target


class ChannelTestOut(Schema):
    ok: bool
    error: str


class NotificationOut(Schema):
    id: int
    status: str
    rule_id: int | None
    channel_id: int | None
    channel_kind: str | None
    kind: str
    offer_id: int
    item_id: int | None
    title: str
    old_price: MoneyOut | None
    new_price: MoneyOut | None
    reference_price: MoneyOut | None
    currency: str
    percent: Decimal | None
    availability: str
    fired_at: datetime
    digest: bool
    due_at: datetime
    attempts: int
    last_error: str
    sent_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_channel_kind(notification: Notification) -> str | None:
        return notification.channel.kind if notification.channel else None

    @staticmethod
    def resolve_title(notification: Notification) -> str:
        return notification.offer.title or notification.offer.url or ""


class Page(Schema):
    count: int
    page: int
    pages: int
    next: str | None
    previous: str | None


class AlertRulePage(Page):
    items: list[AlertRuleOut]


class ChannelPage(Page):
    items: list[ChannelOut]


class NotificationPage(Page):
    items: list[NotificationOut]


class AlertSettingsOut(Schema):
    quiet_start: time | None
    quiet_end: time | None
    digest: bool
    digest_hour: int
    time_zone: str = Field(description="Your profile's time zone (change it at /api/v1/me).")

    @staticmethod
    def resolve_time_zone(preferences: object) -> str:
        return str(preferences.user.time_zone)  # type: ignore[attr-defined]


class AlertSettingsPatch(StrictSchema):
    quiet_start: time | None = Field(default=None, examples=["22:00"])
    quiet_end: time | None = Field(default=None, examples=["07:00"])
    digest: bool | None = None
    digest_hour: int | None = Field(default=None, ge=0, le=23)
