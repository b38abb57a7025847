"""Offer and price-history output.

Money is a decimal string plus a currency; a history series is columnar (one array per column)
so a year of daily data stays a few kilobytes.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from ninja import Field, Schema

from pricewatch.core import money
from pricewatch.pricing.models import Offer
from pricewatch.pricing.selectors import History


class PriceAtOut(Schema):
    price: str | None
    at: datetime | None


class OfferOut(Schema):
    id: int
    kind: str
    title: str
    url: str | None
    image_url: str
    shop: str
    price: str | None
    regular_price: str | None
    currency: str
    availability: str
    first: PriceAtOut
    lowest: PriceAtOut
    highest: PriceAtOut
    change_since_first_percent: str | None
    last_observed_at: datetime | None
    last_changed_at: datetime | None
    observation_count: int

    @staticmethod
    def build(offer: Offer) -> dict[str, Any]:
        return offer_payload(offer)


def change_percent(offer: Offer) -> str | None:
    change = offer.change_from_first
    if change is None:
        return None
    return str((change * 100).quantize(Decimal("0.1")))


def _price_at(price: Decimal | None, at: datetime | None) -> dict[str, Any]:
    return {"price": money.decimal_text(price), "at": at}


def offer_payload(offer: Offer) -> dict[str, Any]:
    return {
        "id": offer.pk,
        "kind": offer.kind,
        "title": offer.title,
        "url": offer.url,
        "image_url": offer.image_url,
        "shop": offer.shop,
        "price": money.decimal_text(offer.price),
        "regular_price": money.decimal_text(offer.regular_price),
        "currency": offer.currency,
        "availability": offer.availability,
        "first": _price_at(offer.first_price, offer.first_observed_at),
        "lowest": _price_at(offer.lowest_price, offer.lowest_observed_at),
        "highest": _price_at(offer.highest_price, offer.highest_observed_at),
        "change_since_first_percent": change_percent(offer),
        "last_observed_at": offer.last_observed_at,
        "last_changed_at": offer.last_changed_at,
        "observation_count": offer.observation_count,
    }


class HistoryQuery(Schema):
    """?from=&to=&interval= of every history endpoint (dates mean whole UTC days)."""

    start: date | datetime | None = Field(None, alias="from")
    end: date | datetime | None = Field(None, alias="to")
    interval: Literal["day", "raw"] = "day"


class HistoryOut(Schema):
    offer: OfferOut
    interval: str
    start: datetime
    end: datetime
    currency: str
    count: int
    # Columnar: "t" (ISO dates for day, ISO times for raw), then "low"/"high"/"close" (day) or
    # "price"/"availability" (raw); "currency"/"availability" per row only when they change.
    series: dict[str, list[Any]]


def history_payload(history: History) -> dict[str, Any]:
    return {
        "offer": offer_payload(history.offer),
        "interval": history.interval,
        "start": history.start,
        "end": history.end,
        "currency": history.currency,
        "count": history.count,
        "series": history.columns,
    }


class OfferPageOut(Schema):
    items: list[OfferOut]
    count: int
    page: int
    pages: int
