"""The one door for prices: points, offer state, daily roll-up and the change outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from pricewatch.alerts import dispatch
from pricewatch.core.errors import DomainError
from pricewatch.pricing import events, services
from pricewatch.pricing.models import Availability, PriceChange, PriceDay, PricePoint
from tests.pricing.factories import make_offer

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def record(offer, price, at, availability=Availability.IN_STOCK, currency="EUR"):  # type: ignore[no-untyped-def]
    return services.record_price(
        offer,
        price=None if price is None else Decimal(price),
        currency=currency,
        availability=availability,
        method="test",
        observed_at=at,
    )


def test_first_observation_sets_first_lowest_highest_without_a_change() -> None:
    offer = make_offer()

    change = record(offer, "100.00", T0)

    assert change is None
    assert (offer.price, offer.first_price, offer.lowest_price, offer.highest_price) == (
        Decimal("100.00"),
    ) * 4
    assert offer.first_observed_at == T0
    assert PricePoint.objects.filter(offer=offer).count() == 1


def test_every_observation_is_a_point_and_changes_leave_an_outbox_row() -> None:
    offer = make_offer()
    record(offer, "100", T0)

    same = record(offer, "100", T0 + timedelta(hours=1))
    drop = record(offer, "65", T0 + timedelta(hours=2))
    rise = record(offer, "120", T0 + timedelta(days=1))

    assert same is None
    assert drop is not None and (drop.old_price, drop.new_price) == (Decimal(100), Decimal(65))
    assert drop.first_price == Decimal(100) and drop.price_dropped
    assert rise is not None and not rise.price_dropped
    offer.refresh_from_db()
    assert (offer.first_price, offer.lowest_price, offer.highest_price, offer.price) == (
        Decimal(100),
        Decimal(65),
        Decimal(120),
        Decimal(120),
    )
    assert offer.observation_count == 4
    assert PricePoint.objects.filter(offer=offer).count() == 4


def test_daily_rollup_keeps_low_high_and_the_latest_close() -> None:
    offer = make_offer()
    # Recorded out of order across two calls: the close is still the latest observation.
    record(offer, "100", T0)
    record(offer, "80", T0 + timedelta(hours=5))
    record(offer, "90", T0 + timedelta(hours=2))
    record(offer, "70", T0 + timedelta(days=1))

    days = list(PriceDay.objects.filter(offer=offer).order_by("day"))

    assert [(d.low, d.high, d.close, d.points) for d in days] == [
        (Decimal(80), Decimal(100), Decimal(80), 3),
        (Decimal(70), Decimal(70), Decimal(70), 1),
    ]


def test_out_of_stock_without_price_keeps_the_last_price_and_is_a_change() -> None:
    offer = make_offer()
    record(offer, "50", T0)

    change = record(offer, None, T0 + timedelta(hours=1), Availability.OUT_OF_STOCK)
    back = record(offer, "50", T0 + timedelta(hours=2), Availability.IN_STOCK)

    assert change is not None and change.new_availability == Availability.OUT_OF_STOCK
    assert change.new_price == Decimal(50)
    assert back is not None and back.old_availability == Availability.OUT_OF_STOCK
    assert back.new_availability == Availability.IN_STOCK


def test_a_currency_switch_starts_a_new_series() -> None:
    offer = make_offer()
    record(offer, "10", T0)

    record(offer, "1500", T0 + timedelta(hours=1), currency="JPY")

    offer.refresh_from_db()
    assert (offer.currency, offer.first_price, offer.lowest_price) == ("JPY", 1500, 1500)


@pytest.mark.parametrize(
    ("price", "currency", "code"),
    [
        ("-1", "EUR", "invalid_price"),
        ("NaN", "EUR", "invalid_price"),
        ("5", "eur", "invalid_currency"),
        ("5", "", "invalid_currency"),
        ("1e20", "EUR", "invalid_price"),
    ],
)
def test_bad_observations_are_refused_and_nothing_is_written(
    price: str, currency: str, code: str
) -> None:
    offer = make_offer()
    record(offer, "10", T0)

    with pytest.raises(DomainError) as refused:
        record(offer, price, T0 + timedelta(hours=1), currency=currency)

    assert refused.value.code == code
    assert PricePoint.objects.filter(offer=offer).count() == 1


def test_bulk_recording_is_all_or_nothing() -> None:
    first, second = make_offer(price="10"), make_offer(price="20")
    good = services.Observation(price=Decimal(5), currency="EUR", method="test")
    bad = services.Observation(price=Decimal(-5), currency="EUR", method="test")

    with pytest.raises(DomainError):
        services.record_prices([(first.pk, good), (second.pk, bad)])

    assert PricePoint.objects.count() == 2  # the two first observations only


def test_consumers_hear_of_changes_only_after_commit(
    django_capture_on_commit_callbacks,
) -> None:  # type: ignore[no-untyped-def]
    heard: list[list[int]] = []
    offer = make_offer(price="100")

    with (
        events.subscribed(lambda ids: heard.append(list(ids))),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        transaction.atomic(),
    ):
        change = record(offer, "60", T0 + timedelta(days=1))
        assert heard == []

    assert len(callbacks) == 1
    assert change is not None and heard == [[change.pk]]
    assert PriceChange.objects.count() == 1


def test_alerts_subscribe_to_price_changes() -> None:
    assert dispatch.changes_recorded in events.consumers()
