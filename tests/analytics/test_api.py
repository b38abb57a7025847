"""Admin reports from the roll-ups: summary, popular with change, daily stats, CSV, raw visits."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine

from pricewatch.analytics.models import ProductDay, SiteDay, Visit
from tests.accounts.conftest import Api
from tests.catalog import factories
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db

api = factories.api
admin_token = factories.admin_token
user_token = factories.user_token

TODAY = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _today() -> object:
    with time_machine.travel(TODAY, tick=False):
        yield


def day_of(
    product_id: int, day: str, views: int, visitors: int, duration: int, bounces: int
) -> None:
    ProductDay.objects.create(
        product_id=product_id,
        day=date.fromisoformat(day),
        views=views,
        visitors=visitors,
        duration_seconds=duration,
        bounces=bounces,
    )


def test_the_summary_adds_up_the_site_days(api: Api, admin_token: str) -> None:
    SiteDay.objects.create(
        day=date(2026, 3, 1), views=10, visitors=4, duration_seconds=300, bounces=5
    )
    SiteDay.objects.create(
        day=date(2026, 3, 2), views=30, visitors=6, duration_seconds=500, bounces=5
    )
    SiteDay.objects.create(
        day=date(2026, 2, 28), views=1000, visitors=1, duration_seconds=1, bounces=1
    )

    response = api.call(
        "GET", "/api/v1/analytics/summary?from=2026-03-01&to=2026-03-02", token=admin_token
    )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "start": "2026-03-01",
        "end": "2026-03-02",
        "views": 40,
        "visitor_days": 10,
        "average_duration_seconds": 20.0,
        "bounces": 10,
        "bounce_rate": 0.25,
    }


def test_popular_products_with_the_change_against_the_previous_period(
    api: Api, admin_token: str
) -> None:
    bottle, mug, lamp = (
        make_product(title="Bottle"),
        make_product(title="Mug"),
        make_product(title="Lamp"),
    )
    day_of(bottle.pk, "2026-03-10", 30, 20, 0, 0)
    day_of(bottle.pk, "2026-03-03", 10, 10, 0, 0)  # previous period
    day_of(mug.pk, "2026-03-09", 50, 5, 0, 0)
    day_of(lamp.pk, "2026-03-08", 5, 5, 0, 0)

    response = api.call(
        "GET", "/api/v1/analytics/popular?from=2026-03-08&to=2026-03-14&limit=2", token=admin_token
    )

    body = response.json()
    assert (body["previous_start"], body["previous_end"]) == ("2026-03-01", "2026-03-07")
    assert [
        (r["title"], r["views"], r["previous_views"], r["change"]) for r in body["results"]
    ] == [
        ("Mug", 50, 0, None),
        ("Bottle", 30, 10, 2.0),
    ]


def test_a_products_daily_stats_fill_empty_days_and_export_as_csv(
    api: Api, admin_token: str
) -> None:
    product = make_product()
    day_of(product.pk, "2026-03-02", 7, 3, 90, 2)
    url = f"/api/v1/analytics/products/{product.pk}"

    daily = api.call("GET", f"{url}?from=2026-03-01&to=2026-03-03&interval=day", token=admin_token)
    exported = api.call("GET", f"{url}/daily.csv?from=2026-03-01&to=2026-03-03", token=admin_token)

    assert [(d["day"], d["views"], d["visitor_days"]) for d in daily.json()["days"]] == [
        ("2026-03-01", 0, 0),
        ("2026-03-02", 7, 3),
        ("2026-03-03", 0, 0),
    ]
    assert exported["Content-Type"].startswith("text/csv")
    assert exported.content.decode().splitlines() == [
        "day,views,visitor_days,duration_seconds,bounces",
        "2026-03-01,0,0,0,0",
        "2026-03-02,7,3,90,2",
        "2026-03-03,0,0,0,0",
    ]


def test_raw_visits_are_paginated_newest_first(api: Api, admin_token: str) -> None:
    product = make_product()
    for minute in range(3):
        moment = datetime(2026, 3, 30, 10, minute, tzinfo=UTC)
        Visit.objects.create(
            key=f"{minute:032d}",
            product=product,
            visitor="v" * 32,
            started_at=moment,
            last_seen_at=moment,
        )

    response = api.call(
        "GET",
        f"/api/v1/analytics/products/{product.pk}/visits?page=1&page_size=2",
        token=admin_token,
    )

    body = response.json()
    assert body["count"] == 3
    assert [row["started_at"][:16] for row in body["results"]] == [
        "2026-03-30T10:02",
        "2026-03-30T10:01",
    ]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("from=2026-03-10&to=2026-03-01", "invalid_range"),
        ("from=2024-01-01&to=2026-03-01", "range_too_long"),
    ],
)
def test_reversed_or_years_long_ranges_are_400(
    api: Api, admin_token: str, query: str, code: str
) -> None:
    response = api.call("GET", f"/api/v1/analytics/summary?{query}", token=admin_token)

    assert response.status_code == 400
    assert response.json()["code"] == code


def test_bad_dates_and_unknown_intervals_are_422(api: Api, admin_token: str) -> None:
    product = make_product()
    bad_date = api.call("GET", "/api/v1/analytics/summary?from=yesterday", token=admin_token)
    weekly = api.call(
        "GET", f"/api/v1/analytics/products/{product.pk}?interval=week", token=admin_token
    )

    assert (bad_date.status_code, weekly.status_code) == (422, 422)


def test_an_unknown_product_is_404(api: Api, admin_token: str) -> None:
    response = api.call("GET", "/api/v1/analytics/products/424242", token=admin_token)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "path", ["summary", "popular", "products/1", "products/1/visits", "products/1/daily.csv"]
)
def test_reports_are_for_admins_only(api: Api, user_token: str, path: str) -> None:
    anonymous = api.call("GET", f"/api/v1/analytics/{path}")
    member = api.call("GET", f"/api/v1/analytics/{path}", token=user_token)

    assert (anonymous.status_code, member.status_code) == (401, 403)
