"""The tracking pages (dashboard, lists, item page, schedules) through Django's test client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pricewatch.alerts.models import AlertRule
from pricewatch.pricing import services as pricing
from pricewatch.pricing.models import Availability
from pricewatch.tracking import demo_shop
from pricewatch.tracking.models import Check, WatchItem, Watchlist
from tests.accounts.factories import UserFactory
from tests.tracking.factories import make_item, make_page, make_watchlist

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(scope="module")
def shop() -> Iterator[tuple[demo_shop.DemoShop, str]]:
    app = demo_shop.DemoShop(demo_shop.Catalog(products=6, seed=3))
    with demo_shop.running(app) as base:
        yield app, base


@pytest.fixture
def owner(client: Any) -> Any:
    user = UserFactory(time_zone="Europe/Berlin")
    client.force_login(user)
    return user


def _product_url(shop: tuple[demo_shop.DemoShop, str]) -> tuple[demo_shop.Product, str]:
    app, base = shop
    app.catalog.reset()
    product = next(p for p in app.catalog.all() if p.style == "json-ld")
    return product, f"{base}/products/{product.slug}"


def _text(response: Any) -> str:
    return response.content.decode()


# --- sign-in and ownership ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/watchlists/",
        "/watchlists/1/",
        "/watchlists/1/schedule",
        "/watchlists/1/delete",
        "/watchlists/items/1/",
        "/watchlists/items/1/chart?range=30d",
    ],
)
def test_pages_that_need_sign_in_redirect_to_login_and_back(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/watchlists/")


def test_every_page_renders_for_its_owner_and_is_not_found_for_another_user(
    client: Any, owner: Any
) -> None:
    watchlist = make_watchlist(owner, "Kitchen")
    item = make_item(watchlist, make_page(price="12.50", title="Kettle"))
    pages = [
        f"/watchlists/{watchlist.pk}/",
        f"/watchlists/{watchlist.pk}/schedule",
        f"/watchlists/{watchlist.pk}/delete",
        f"/watchlists/items/{item.pk}/",
        f"/watchlists/items/{item.pk}/row",
        f"/watchlists/items/{item.pk}/chart?range=30d",
    ]
    for path in ["/", "/watchlists/", *pages]:
        assert client.get(path).status_code == 200, path
    assert "Kettle" in _text(client.get(f"/watchlists/items/{item.pk}/"))

    client.force_login(UserFactory())
    for path in pages:
        assert client.get(path).status_code == 404, path
    assert client.post(f"/watchlists/items/{item.pk}/remove").status_code == 404
    assert client.post(f"/watchlists/{watchlist.pk}/delete").status_code == 404
    assert WatchItem.objects.filter(pk=item.pk).exists()


def test_the_item_page_without_a_trailing_slash_redirects_to_it(client: Any, owner: Any) -> None:
    item = make_item(make_watchlist(owner))
    response = client.get(f"/watchlists/items/{item.pk}")
    assert response.status_code == 301
    assert response["Location"] == f"/watchlists/items/{item.pk}/"


# --- dashboard ---------------------------------------------------------------------------------


def test_anonymous_visitors_get_the_landing_page(client: Any) -> None:
    text = _text(client.get("/"))
    assert "Create an account" in text and "/catalog/" in text
    assert "Signed in as" not in text


def test_a_new_user_is_guided_to_create_a_first_list(client: Any, owner: Any) -> None:
    text = _text(client.get("/"))
    assert f"Signed in as <strong>{owner.email}</strong>" in text
    assert "Create your first list" in text

    response = client.post("/watchlists/", {"name": "  Kitchen  "})
    watchlist = Watchlist.objects.get(owner=owner)
    assert watchlist.name == "Kitchen"
    assert response["Location"] == f"/watchlists/{watchlist.pk}/"


@pytest.mark.parametrize("shop_url", ["http://127.0.0.1:8001/", ""])
def test_a_new_user_is_pointed_to_the_demo_shop_when_it_runs(
    client: Any, owner: Any, settings: Any, shop_url: str
) -> None:
    settings.DEMO_SHOP_URL = shop_url  # `pricewatch run` serves it in the embedded mode

    text = _text(client.get("/"))

    assert ('href="http://127.0.0.1:8001/"' in text) == bool(shop_url)


def test_the_dashboard_shows_lists_drops_and_failing_pages(client: Any, owner: Any) -> None:
    watchlist = make_watchlist(owner, "Kitchen")
    dropped = make_page(price="100.00", title="Toaster")
    pricing.record_price(dropped, price=Decimal("60.00"), currency="EUR", method="test")
    make_item(watchlist, dropped)
    failing = make_page(
        price="5.00",
        title="Broken page",
        checked_at=timezone.now(),
        last_status=Check.Status.ERROR,
        last_error="The shop answered 503 Service Unavailable.",
    )
    make_item(watchlist, failing)

    text = _text(client.get("/"))
    assert "Kitchen" in text and "2 items" in text
    assert "Toaster" in text and '<span class="change down"' in text and "40.0 %" in text
    assert "Needs your attention" in text
    assert "The shop answered 503 Service Unavailable." in text
    assert "Create your first list" not in text


def test_creating_a_list_with_a_taken_name_says_so(client: Any, owner: Any) -> None:
    make_watchlist(owner, "Kitchen")
    response = client.post("/watchlists/", {"name": "kitchen"})
    assert response.status_code == 422
    assert "You already have a list named" in _text(response)


# --- adding by URL -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_adding_a_demo_shop_url_shows_its_price_in_the_new_row(
    client: Any, shop: tuple[demo_shop.DemoShop, str]
) -> None:
    user = UserFactory()
    client.force_login(user)
    watchlist = make_watchlist(user, "Kitchen")
    product, url = _product_url(shop)

    # The first check runs eagerly after commit, inside the request.
    response = client.post(f"/watchlists/{watchlist.pk}/items", {"url": url}, **HTMX)

    text = _text(response)
    assert response.status_code == 200
    assert text.lstrip().startswith("<tr")
    assert product.name in text
    assert f"€{product.price:,.2f}" in text
    assert 'hx-trigger="every 1s"' not in text  # finished: the row does not poll


def test_the_new_row_polls_while_the_first_check_runs_then_shows_the_price(
    client: Any,
    owner: Any,
    shop: tuple[demo_shop.DemoShop, str],
    django_capture_on_commit_callbacks: Any,
) -> None:
    watchlist = make_watchlist(owner, "Kitchen")
    product, url = _product_url(shop)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/watchlists/{watchlist.pk}/items", {"url": url}, **HTMX)
        # The test's transaction is not committed yet, so the first check has not run.
        assert "Checking…" in _text(response)
        assert 'hx-trigger="every 1s"' in _text(response)

    item = WatchItem.objects.get(watchlist=watchlist)
    row = _text(client.get(f"/watchlists/items/{item.pk}/row"))
    assert f"€{product.price:,.2f}" in row
    assert "Checking…" not in row and "hx-trigger" not in row


def test_a_private_address_is_refused_with_a_clear_message_next_to_the_field(
    client: Any, owner: Any
) -> None:
    watchlist = make_watchlist(owner, "Kitchen")

    response = client.post(f"/watchlists/{watchlist.pk}/items", {"url": "http://10.0.0.5/"}, **HTMX)
    assert response["HX-Retarget"] == "#add-url-error"
    assert "Refusing to track http://10.0.0.5/" in _text(response)
    assert "private" in _text(response)

    page = client.post(f"/watchlists/{watchlist.pk}/items", {"url": "not a url"})
    assert page.status_code == 422
    assert 'id="add-url-error"' in _text(page)
    assert not WatchItem.objects.filter(watchlist=watchlist).exists()


# --- list management ---------------------------------------------------------------------------


def test_rename_move_remove_and_delete_after_confirmation(client: Any, owner: Any) -> None:
    kitchen = make_watchlist(owner, "Kitchen")
    garden = make_watchlist(owner, "Garden")
    item = make_item(kitchen, make_page(price="9.99", title="Spade"))
    other = make_item(kitchen, make_page(price="1.00", title="Spoon"))

    client.post(f"/watchlists/{kitchen.pk}/rename", {"name": "Cooking"})
    kitchen.refresh_from_db()
    assert kitchen.name == "Cooking"
    clash = client.post(f"/watchlists/{kitchen.pk}/rename", {"name": "garden"}, follow=True)
    assert "You already have a list named" in _text(clash)

    client.post(f"/watchlists/items/{item.pk}/move", {"to": garden.pk})
    item.refresh_from_db()
    assert item.watchlist_id == garden.pk
    assert "Spade" in _text(client.get(f"/watchlists/{garden.pk}/"))

    client.post(f"/watchlists/items/{other.pk}/remove")
    assert not WatchItem.objects.filter(pk=other.pk).exists()

    confirm = client.get(f"/watchlists/{garden.pk}/delete")
    assert "Delete the list" in _text(confirm)
    assert Watchlist.objects.filter(pk=garden.pk).exists()  # a GET deletes nothing
    response = client.post(f"/watchlists/{garden.pk}/delete")
    assert response["Location"] == "/watchlists/"
    assert not Watchlist.objects.filter(pk=garden.pk).exists()


def test_the_lists_page_shows_counts_and_schedules(client: Any, owner: Any) -> None:
    watchlist = make_watchlist(owner, "Kitchen", weekdays=[1, 5], times=["08:00", "18:30"])
    make_item(watchlist)
    make_watchlist(owner, "Hourly", schedule_kind="interval", interval_minutes=60, times=[])
    text = _text(client.get("/watchlists/"))
    assert "Mon, Fri at 08:00, 18:30 (Europe/Berlin)" in text
    assert "Every 60 minutes" in text
    assert '<td class="num">1</td>' in text


# --- schedules ---------------------------------------------------------------------------------


def test_the_schedule_preview_lists_the_next_runs_in_the_chosen_zone(
    client: Any, owner: Any
) -> None:
    response = client.post(
        "/watchlists/schedule-preview",
        {"kind": "times", "times": "07:30", "weekdays": ["2"], "time_zone": "America/New_York"},
        **HTMX,
    )
    text = _text(response)
    assert "America/New_York" in text
    assert text.count("<li>") == 8
    assert text.count("Tue ") == 8 and text.count(", 07:30") == 8

    wrong = _text(client.post("/watchlists/schedule-preview", {"kind": "times", "times": "25:00"}))
    assert "is not a time of day; use HH:MM" in wrong

    short = _text(
        client.post("/watchlists/schedule-preview", {"kind": "interval", "interval_minutes": "1"})
    )
    assert "at least 5 minutes" in short


def test_saving_a_schedule_updates_the_list(client: Any, owner: Any) -> None:
    watchlist = make_watchlist(owner, "Kitchen")
    page = _text(client.get(f"/watchlists/{watchlist.pk}/schedule"))
    assert "Next checks (Europe/Berlin)" in page  # the saved schedule is previewed at once

    response = client.post(
        f"/watchlists/{watchlist.pk}/schedule",
        {"kind": "times", "times": "06:00, 20:00", "weekdays": ["6", "7"], "time_zone": "UTC"},
    )
    assert response.status_code == 302
    watchlist.refresh_from_db()
    assert (watchlist.times, watchlist.weekdays, watchlist.time_zone) == (
        ["06:00", "20:00"],
        [6, 7],
        "UTC",
    )
    bad = client.post(
        f"/watchlists/{watchlist.pk}/schedule",
        {"kind": "interval", "interval_minutes": "2", "time_zone": ""},
    )
    assert bad.status_code == 422 and "at least 5 minutes" in _text(bad)


# --- check now ---------------------------------------------------------------------------------


def test_check_now_says_when_the_rate_limit_is_hit(client: Any, owner: Any, settings: Any) -> None:
    settings.TRACKING_CHECK_NOW_RATE = "1/m"
    watchlist = make_watchlist(owner, "Kitchen")
    item = make_item(watchlist, make_page(price="3.00", checked_at=timezone.now()))

    first = client.post(f"/watchlists/{watchlist.pk}/check", follow=True)
    assert "Checking 1 page now." in _text(first)
    second = client.post(f"/watchlists/items/{item.pk}/check", follow=True)
    assert "You can ask for 1 checks per minute" in _text(second)
    assert second.redirect_chain[-1][0] == f"/watchlists/items/{item.pk}/"


# --- the item page -----------------------------------------------------------------------------


def test_the_item_page_shows_prices_checks_availability_and_rules(client: Any, owner: Any) -> None:
    watchlist = make_watchlist(owner, "Kitchen")
    offer = make_page(price="20.00", title="Kettle", checked_at=timezone.now())
    pricing.record_price(
        offer,
        price=Decimal("15.00"),
        currency="EUR",
        method="json-ld",
        availability=Availability.OUT_OF_STOCK,
    )
    item = make_item(watchlist, offer, target_price=Decimal("12.00"))
    Check.objects.create(
        page_id=offer.pk,
        started_at=timezone.now(),
        trigger=Check.Trigger.SCHEDULE,
        status=Check.Status.ERROR,
        http_status=503,
        duration_ms=321,
        method="",
        error="The shop answered 503 Service Unavailable.",
    )
    AlertRule.objects.create(owner=owner, kind="back_in_stock", scope="all")

    text = _text(client.get(f"/watchlists/items/{item.pk}/"))
    assert "€15.00" in text and "€20.00" in text and "€12.00" in text
    assert "data-price-chart" in text and f"/watchlists/items/{item.pk}/chart" in text
    assert "Out of stock" in text
    assert "503" in text and "321 ms" in text and "Fetch failed" in text
    assert "Back in stock" in text and "all my items" in text


def test_adding_alert_rules_and_a_target_price_on_the_item_page(client: Any, owner: Any) -> None:
    item = make_item(make_watchlist(owner, "Kitchen"), make_page(price="50.00"))

    client.post(f"/watchlists/items/{item.pk}/rules", {"kind": "drop_from_first", "percent": "25"})
    client.post(
        f"/watchlists/items/{item.pk}/rules", {"kind": "target_price", "target_price": "40"}
    )
    refused = client.post(
        f"/watchlists/items/{item.pk}/rules",
        {"kind": "drop_from_first", "percent": "150"},
        follow=True,
    )
    client.post(f"/watchlists/items/{item.pk}/edit", {"target_price": "45.5", "note": "gift"})

    rules = AlertRule.objects.filter(owner=owner, scope="item", item=item)
    assert {(r.kind, r.percent, r.target_price) for r in rules} == {
        ("drop_from_first", Decimal("25.00"), None),
        ("target_price", None, Decimal("40.0000")),
    }
    assert "The percentage must be more than 0 and less than 100." in _text(refused)
    item.refresh_from_db()
    assert (item.target_price, item.note) == (Decimal("45.5000"), "gift")
    text = _text(client.get(f"/watchlists/items/{item.pk}/"))
    assert "25 % or more below the first price" in text
    assert "At or below €40.00" in text
    assert "(default)" in text  # creating a rule also created the default 30 % rule


# --- chart data --------------------------------------------------------------------------------


def test_a_year_of_chart_data_is_daily_closes_under_20_kb(client: Any, owner: Any) -> None:
    item = make_item(make_watchlist(owner), make_page(title="Kettle"))
    now = timezone.now()
    observations = []
    for day in range(365, 0, -1):
        for hour in (6, 18):  # two points a day: the chart shows the day's close
            price = Decimal("100.00") + Decimal(day % 37) + Decimal(hour) / 100
            observations.append(
                (
                    item.offer_id,
                    pricing.Observation(
                        price=price,
                        currency="EUR",
                        method="test",
                        observed_at=now - timedelta(days=day) + timedelta(hours=hour - 12),
                    ),
                )
            )
    pricing.record_prices(observations)

    response = client.get(f"/watchlists/items/{item.pk}/chart?range=1y")

    assert response["Content-Type"] == "application/json"
    assert len(response.content) <= 20 * 1024
    data = json.loads(response.content)
    assert set(data) == {"currency", "t", "series", "first", "lowest", "highest"}
    assert data["currency"] == "EUR"
    assert 365 <= len(data["t"]) <= 367  # a close per day, and the current price now
    assert data["t"] == sorted(data["t"]) and all(isinstance(t, int) for t in data["t"])
    assert len(data["series"]) == 1
    values = data["series"][0]["values"]
    assert len(values) == len(data["t"]) and all(isinstance(v, str) for v in values)
    assert data["lowest"] == "100.06" and data["highest"] == "136.18"

    week = json.loads(client.get(f"/watchlists/items/{item.pk}/chart?range=7d").content)
    # Raw points, two a day (the oldest outside the 7 days), and the current price now.
    assert len(week["t"]) == 14
    assert client.get(f"/watchlists/items/{item.pk}/chart?range=2w").status_code == 400


# --- queries -----------------------------------------------------------------------------------


def _list_queries(client: Any, watchlist: Watchlist) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/watchlists/{watchlist.pk}/")
    assert response.status_code == 200
    return len(queries)


def test_the_list_page_needs_the_same_queries_for_3_or_30_items(client: Any, owner: Any) -> None:
    small, large = make_watchlist(owner, "Small"), make_watchlist(owner, "Large")
    yesterday = timezone.now() - timedelta(days=1)
    for index in range(30):
        offer = make_page(checked_at=timezone.now())
        for price, when in ((f"{10 + index}.00", yesterday), (f"{9 + index}.00", None)):
            pricing.record_price(
                offer, price=Decimal(price), currency="EUR", method="t", observed_at=when
            )
        make_item(large, offer)
        if index < 3:
            make_item(small, offer)

    client.get("/")  # warm up: with Redis the session is read from the cache afterwards
    few, many = _list_queries(client, small), _list_queries(client, large)

    assert few == many
    assert many <= 10
    assert _text(client.get(f"/watchlists/{large.pk}/")).count('<svg class="spark"') == 30
