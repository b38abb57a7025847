"""Price history and offers through the API: daily and raw series, compact, and who may read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from pricewatch.catalog.models import Product
from pricewatch.pricing import selectors
from pricewatch.pricing import services as pricing
from pricewatch.pricing.models import Availability, Offer
from tests.accounts.conftest import Api
from tests.accounts.factories import UserFactory
from tests.pricing.factories import make_offer
from tests.tracking.factories import make_item, make_page, make_watchlist

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


def observe(offer: Offer, price: str | None, at: datetime, **kwargs: Any) -> None:
    kwargs.setdefault("availability", Availability.IN_STOCK)
    pricing.record_prices(
        [
            (
                offer.pk,
                pricing.Observation(
                    price=None if price is None else Decimal(price),
                    currency=kwargs.pop("currency", "EUR"),
                    method="test",
                    observed_at=at,
                    **kwargs,
                ),
            )
        ]
    )


def catalog_offer_with_a_year_of_prices() -> Offer:
    offer = make_offer(kind=Offer.Kind.CATALOG, price=None)
    observations = []
    for day in range(365):
        base = Decimal(1000 + (day % 37)) + Decimal("0.99")
        for hour, delta in ((0, 0), (6, -5), (12, 7)):
            observations.append(
                (
                    offer.pk,
                    pricing.Observation(
                        price=base + delta,
                        currency="EUR",
                        method="test",
                        availability=Availability.IN_STOCK,
                        observed_at=T0 + timedelta(days=day, hours=hour),
                    ),
                )
            )
    pricing.record_prices(observations)
    offer.refresh_from_db()
    return offer


def test_daily_history_is_low_high_close_per_day(api: Api) -> None:
    offer = make_offer(kind=Offer.Kind.CATALOG)
    observe(offer, "10.00", T0)
    observe(offer, "8.50", T0 + timedelta(hours=2))
    observe(offer, "9.25", T0 + timedelta(hours=4))
    observe(offer, "12.00", T0 + timedelta(days=2))

    response = api.call("GET", f"{V1}/offers/{offer.pk}/history?from=2026-01-01&to=2026-01-31")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["interval"] == "day" and body["currency"] == "EUR" and body["count"] == 2
    assert body["series"] == {
        "t": ["2026-01-01", "2026-01-03"],
        "low": ["8.50", "12.00"],
        "high": ["10.00", "12.00"],
        "close": ["9.25", "12.00"],
    }
    assert body["offer"]["first"]["price"] == "10.00"
    assert body["offer"]["lowest"]["price"] == "8.50"
    assert body["offer"]["highest"]["price"] == "12.00"
    assert body["offer"]["price"] == "12.00"
    assert body["offer"]["change_since_first_percent"] == "20.0"


def test_raw_history_has_every_point_in_the_range(api: Api) -> None:
    offer = make_offer(kind=Offer.Kind.CATALOG)
    observe(offer, "10.00", T0)
    observe(offer, None, T0 + timedelta(hours=1), availability=Availability.OUT_OF_STOCK)
    observe(offer, "11.00", T0 + timedelta(days=1))

    body = api.call(
        "GET",
        f"{V1}/offers/{offer.pk}/history?interval=raw&from=2026-01-01T00:00:00Z"
        "&to=2026-01-01T23:59:59Z",
    ).json()

    assert body["series"] == {
        "t": ["2026-01-01T08:00:00Z", "2026-01-01T09:00:00Z"],
        "price": ["10.00", None],
        "availability": ["in_stock", "out_of_stock"],
    }


def test_a_currency_change_within_the_range_is_shown_per_row(api: Api) -> None:
    offer = make_offer(kind=Offer.Kind.CATALOG)
    observe(offer, "10.00", T0)
    observe(offer, "1500", T0 + timedelta(days=1), currency="JPY")

    body = api.call("GET", f"{V1}/offers/{offer.pk}/history?from=2026-01-01&to=2026-01-05").json()

    assert body["currency"] == ""
    assert body["series"]["currency"] == ["EUR", "JPY"]


def test_a_year_of_daily_data_is_small(api: Api) -> None:
    offer = catalog_offer_with_a_year_of_prices()

    response = api.call("GET", f"{V1}/offers/{offer.pk}/history?from=2026-01-01&to=2026-12-31")

    assert response.status_code == 200
    assert response.json()["count"] == 365
    assert len(response.content) <= 20_000, len(response.content)


def test_product_history_is_its_offers(api: Api) -> None:
    offer = make_offer(kind=Offer.Kind.CATALOG, price="20.00")
    product = Product.objects.create(sku="S1", title="Shoe", offer=offer)
    body = api.call("GET", f"{V1}/products/{product.pk}/history").json()
    assert body["offer"]["id"] == offer.pk and body["count"] == 1
    assert api.call("GET", f"{V1}/products/999999/history").status_code == 404


def test_tracked_pages_are_readable_by_their_watchers_only(api: Api) -> None:
    page = make_page(price="10.00")
    watcher, stranger, admin = UserFactory(), UserFactory(), UserFactory(is_staff=True)
    make_item(make_watchlist(watcher), page)

    def status(user: Any | None, path: str) -> int:
        token = api.login(user.email)["access_token"] if user else None
        return int(api.call("GET", path, token=token).status_code)

    for path in (f"{V1}/offers/{page.pk}", f"{V1}/offers/{page.pk}/history"):
        assert status(watcher, path) == 200
        assert status(admin, path) == 200
        assert status(stranger, path) == 404
        assert status(None, path) == 404


def test_catalog_offers_are_public(api: Api) -> None:
    offer = make_offer(kind=Offer.Kind.CATALOG, price="5.00")
    assert api.call("GET", f"{V1}/offers/{offer.pk}").json()["price"] == "5.00"
    assert api.call("GET", f"{V1}/offers/{offer.pk}/history").status_code == 200
    assert api.call("GET", f"{V1}/offers/999999").status_code == 404


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("interval=hour", 422),
        ("from=yesterday", 422),
        ("from=2026-02-01&to=2026-01-01", 400),
        ("from=2000-01-01&to=2026-01-01", 400),
    ],
)
def test_bad_history_queries_are_refused(api: Api, query: str, status: int) -> None:
    offer = make_offer(kind=Offer.Kind.CATALOG, price="5.00")
    response = api.call("GET", f"{V1}/offers/{offer.pk}/history?{query}")
    assert response.status_code == status, response.content
    assert response.json()["detail"]


def test_too_many_raw_points_asks_for_a_narrower_range(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "MAX_RAW_POINTS", 2)
    offer = make_offer(kind=Offer.Kind.CATALOG)
    for hour in range(3):
        observe(offer, "1.00", T0 + timedelta(hours=hour))
    response = api.call(
        "GET", f"{V1}/offers/{offer.pk}/history?interval=raw&from=2026-01-01&to=2026-01-02"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "too_many_points"


def test_offers_30_percent_below_their_first_price(api: Api) -> None:
    dropped = make_offer(kind=Offer.Kind.CATALOG, price="100.00", title="Dropped")
    pricing.record_price(dropped, price=Decimal("70.00"), currency="EUR", method="test")
    barely = make_offer(kind=Offer.Kind.CATALOG, price="100.00", title="Barely")
    pricing.record_price(barely, price=Decimal("70.01"), currency="EUR", method="test")
    make_offer(kind=Offer.Kind.CATALOG, title="Unpriced")
    hidden = make_page(price="100.00", title="Someone's page")
    pricing.record_price(hidden, price=Decimal("10.00"), currency="EUR", method="test")

    assert [offer.title for offer in selectors.offers_below_first(percent=Decimal(30))] == [
        "Dropped",
        "Someone's page",
    ]
    body = api.call("GET", f"{V1}/offers?min_drop=30").json()
    assert [row["title"] for row in body["items"]] == ["Dropped"]
    assert api.call("GET", f"{V1}/offers?min_drop=0").status_code == 422
    assert api.call("GET", f"{V1}/offers?min_drop=101").status_code == 422


def test_history_output_is_plain_json(api: Api) -> None:
    offer = make_offer(kind=Offer.Kind.CATALOG, price="5.00")
    body = api.call("GET", f"{V1}/offers/{offer.pk}/history").json()
    assert json.loads(json.dumps(body)) == body
