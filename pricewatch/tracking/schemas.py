"""Watchlists, watch items, schedules and checks, in and out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ninja import Schema
from pydantic import Field, model_validator

from pricewatch.core import money
from pricewatch.core.api import StrictSchema
from pricewatch.pricing.schemas import change_percent
from pricewatch.tracking.models import Check, WatchItem, Watchlist


class ScheduleIn(StrictSchema):
    """Times of day (local "HH:MM", with optional ISO weekdays 1-7) or an interval in minutes.

    `time_zone` empty or left out: the owner's time zone (following it when it changes).
    """

    times: list[str] = Field(default_factory=list, max_length=48, examples=[["09:00", "18:30"]])
    weekdays: list[int] = Field(default_factory=list, max_length=7, examples=[[1, 2, 3, 4, 5]])
    time_zone: str = Field(default="", max_length=64, examples=["Europe/Berlin"])
    interval_minutes: int | None = Field(default=None, examples=[60])


class ScheduleOut(Schema):
    kind: str
    times: list[str]
    weekdays: list[int]
    time_zone: str
    time_zone_is_owners: bool
    interval_minutes: int | None


class WatchlistIn(StrictSchema):
    name: str = Field(max_length=200, examples=["Kitchen"])
    schedule: ScheduleIn | None = None
    paused: bool = False


class WatchlistPatch(StrictSchema):
    name: str | None = Field(default=None, max_length=200)
    schedule: ScheduleIn | None = None
    paused: bool | None = None


class WatchlistOut(Schema):
    id: int
    name: str
    item_count: int
    schedule: ScheduleOut
    paused: bool
    next_due_at: datetime | None
    last_run_at: datetime | None
    next_runs: list[datetime]
    created_at: datetime
    updated_at: datetime


class SchedulePreviewOut(Schema):
    time_zone: str
    next_runs: list[datetime]


class WatchItemIn(StrictSchema):
    """Give either `url` (any shop's product page) or `product_id` (a catalog product)."""

    url: str | None = Field(default=None, max_length=8192, examples=["https://shop.example/p/1"])
    product_id: int | None = None
    target_price: Decimal | None = Field(default=None, examples=["19.99"])
    note: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _one_source(self) -> WatchItemIn:
        if (self.url is None) == (self.product_id is None):
            raise ValueError("Give either url or product_id.")
        return self


class WatchItemPatch(StrictSchema):
    target_price: Decimal | None = None
    note: str | None = Field(default=None, max_length=2000)


class MoveIn(StrictSchema):
    watchlist_id: int


class LastCheckOut(Schema):
    at: datetime | None
    status: str
    error: str
    consecutive_failures: int
    due: bool


class WatchItemOut(Schema):
    id: int
    watchlist_id: int
    offer_id: int
    product_id: int | None
    kind: str
    title: str
    image_url: str
    url: str | None
    shop: str
    price: str | None
    currency: str
    availability: str
    first_price: str | None
    lowest_price: str | None
    highest_price: str | None
    change_since_first_percent: str | None
    last_observed_at: datetime | None
    last_check: LastCheckOut | None
    target_price: str | None
    target_reached: bool
    note: str
    created_at: datetime


class WatchItemPageOut(Schema):
    items: list[WatchItemOut]
    count: int
    page: int
    pages: int


class CheckNowOut(Schema):
    queued: int
    already_running: int
    not_checkable: int


class CheckOut(Schema):
    id: int
    started_at: datetime
    duration_ms: int
    trigger: str
    status: str
    http_status: int | None
    error_code: str
    error: str
    bytes: int
    attempts: int
    method: str
    confidence: float | None
    price: str | None
    currency: str
    availability: str


class CheckPageOut(Schema):
    items: list[CheckOut]
    count: int
    page: int
    pages: int


def schedule_payload(watchlist: Watchlist) -> dict[str, Any]:
    interval = watchlist.schedule_kind == Watchlist.ScheduleKind.INTERVAL
    return {
        "kind": watchlist.schedule_kind,
        "times": [] if interval else list(watchlist.times),
        "weekdays": [] if interval else list(watchlist.weekdays),
        "time_zone": watchlist.time_zone or watchlist.owner.time_zone,
        "time_zone_is_owners": not watchlist.time_zone,
        "interval_minutes": watchlist.interval_minutes if interval else None,
    }


def watchlist_payload(watchlist: Watchlist, next_runs: list[datetime]) -> dict[str, Any]:
    return {
        "id": watchlist.pk,
        "name": watchlist.name,
        "item_count": getattr(watchlist, "item_count", 0),
        "schedule": schedule_payload(watchlist),
        "paused": watchlist.paused,
        "next_due_at": watchlist.next_due_at,
        "last_run_at": watchlist.last_run_at,
        "next_runs": next_runs,
        "created_at": watchlist.created_at,
        "updated_at": watchlist.updated_at,
    }


def item_payload(item: WatchItem) -> dict[str, Any]:
    offer = item.offer
    page = getattr(offer, "page", None)
    product = getattr(offer, "product", None)
    last_check = None
    if page is not None:
        last_check = {
            "at": page.last_checked_at,
            "status": page.last_status,
            "error": page.last_error,
            "consecutive_failures": page.consecutive_failures,
            "due": page.due_at is not None,
        }
    return {
        "id": item.pk,
        "watchlist_id": item.watchlist_id,
        "offer_id": offer.pk,
        "product_id": product.pk if product is not None else None,
        "kind": offer.kind,
        "title": offer.title,
        "image_url": offer.image_url,
        "url": offer.url,
        "shop": offer.shop,
        "price": money.decimal_text(offer.price),
        "currency": offer.currency,
        "availability": offer.availability,
        "first_price": money.decimal_text(offer.first_price),
        "lowest_price": money.decimal_text(offer.lowest_price),
        "highest_price": money.decimal_text(offer.highest_price),
        "change_since_first_percent": change_percent(offer),
        "last_observed_at": offer.last_observed_at,
        "last_check": last_check,
        "target_price": money.decimal_text(item.target_price),
        "target_reached": (
            item.target_price is not None
            and offer.price is not None
            and offer.price <= item.target_price
        ),
        "note": item.note,
        "created_at": item.created_at,
    }


def check_payload(check: Check) -> dict[str, Any]:
    return {
        "id": check.pk,
        "started_at": check.started_at,
        "duration_ms": check.duration_ms,
        "trigger": check.trigger,
        "status": check.status,
        "http_status": check.http_status,
        "error_code": check.error_code,
        "error": check.error,
        "bytes": check.bytes,
        "attempts": check.attempts,
        "method": check.method,
        "confidence": check.confidence,
        "price": money.decimal_text(check.price),
        "currency": check.currency,
        "availability": check.availability,
    }
