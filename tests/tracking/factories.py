"""Watchlists, items and tracked pages for tests (prices go through the pricing door)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pricewatch.pricing import services as pricing
from pricewatch.pricing.models import Availability, Offer
from pricewatch.tracking.models import Check, Page, WatchItem, Watchlist
from tests.accounts.factories import UserFactory


def make_watchlist(owner: Any = None, name: str | None = None, **fields: Any) -> Watchlist:
    owner = owner or UserFactory()
    fields.setdefault("times", ["09:00"])
    return Watchlist.objects.create(
        owner=owner, name=name or f"List {Watchlist.objects.count() + 1}", **fields
    )


def make_page(
    url: str | None = None,
    *,
    price: str | None = None,
    currency: str = "EUR",
    title: str = "A product",
    checked_at: datetime | None = None,
    **page_fields: Any,
) -> Offer:
    """A tracked page: its offer (kind page, priced through the door if `price`) and Page row."""
    url = url or f"https://shop.example/p/{Offer.objects.count() + 1}"
    observation = None
    if price is not None:
        observation = pricing.Observation(
            price=Decimal(price),
            currency=currency,
            method="test",
            availability=Availability.IN_STOCK,
        )
    offer = pricing.create_offer(
        kind=Offer.Kind.PAGE, url=url, title=title, shop="shop.example", observation=observation
    )
    Page.objects.create(
        offer=offer, domain="shop.example", last_checked_at=checked_at, **page_fields
    )
    return offer


def make_item(
    watchlist: Watchlist | None = None, offer: Offer | None = None, **fields: Any
) -> WatchItem:
    watchlist = watchlist or make_watchlist()
    offer = offer or make_page()
    return WatchItem.objects.create(watchlist=watchlist, offer=offer, **fields)


def make_check(offer: Offer, started_at: datetime, **fields: Any) -> Check:
    fields.setdefault("status", Check.Status.OK)
    fields.setdefault("trigger", Check.Trigger.SCHEDULE)
    return Check.objects.create(page_id=offer.pk, started_at=started_at, **fields)


class Enqueued:
    """What the tracker sent to the task queue instead of running it."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[int], str, float | None]] = []
        self.first: list[int] = []

    @property
    def page_ids(self) -> list[int]:
        return [page_id for ids, _, _ in self.batches for page_id in ids]


def record_enqueued(monkeypatch: Any) -> Enqueued:
    """Replace the check tasks' sending with a recorder (for tests about what is sent)."""
    from pricewatch.tracking import tasks

    sent = Enqueued()

    def apply_async(args: tuple[list[int], str], countdown: float | None = None, **_: Any) -> None:
        ids, trigger = args
        sent.batches.append((list(ids), trigger, countdown))

    def delay(page_id: int, trigger: str) -> None:
        assert trigger == "first"
        sent.first.append(page_id)

    monkeypatch.setattr(tasks.check_pages, "apply_async", apply_async)
    monkeypatch.setattr(tasks.check_page, "delay", delay)
    return sent
