"""Counting product views: one buffered event per real view, nothing for bots, opt-outs, reloads."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pricewatch.analytics import visitors
from pricewatch.analytics.models import ProductDay, Salt, SiteDay, Visit, VisitorDay
from tests.analytics.conftest import ADDRESS, CHROME, FIREFOX, browser, flush
from tests.catalog.factories import make_product

pytestmark = pytest.mark.django_db


def page(product_id: int) -> str:
    return f"/catalog/{product_id}/"


def test_a_product_page_view_is_buffered_and_written_by_the_flush() -> None:
    product = make_product()

    with CaptureQueriesContext(connection) as queries:
        response = browser().get(page(product.pk))

    assert response.status_code == 200
    writes = [
        q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))
    ]
    assert not [sql for sql in writes if "analytics" in sql]
    assert not Visit.objects.exists()
    assert b"pricewatch/visits.js" in response.content

    assert flush().views == 1
    visit = Visit.objects.get()
    assert (visit.product_id, visit.source, visit.agent_family, visit.bounced) == (
        product.pk,
        "web",
        "Firefox",
        True,
    )
    assert visit.key.encode() in response.content
    day = ProductDay.objects.get(product=product)
    assert (day.views, day.visitors, day.duration_seconds, day.bounces) == (1, 1, 0, 1)
    assert SiteDay.objects.get().views == 1


def test_reloads_within_seconds_count_once_and_reuse_the_visit() -> None:
    product = make_product()
    client = browser()

    first = client.get(page(product.pk))
    second = client.get(page(product.pk))

    assert flush().views == 1
    key = Visit.objects.get().key
    assert key.encode() in first.content and key.encode() in second.content


def test_two_browsers_are_two_visitors_and_one_visitor_on_two_products_is_one_site_visitor() -> (
    None
):
    bottle, mug = make_product(), make_product(title="Mug")

    browser(FIREFOX).get(page(bottle.pk))
    browser(CHROME).get(page(bottle.pk))
    browser(CHROME).get(page(mug.pk))
    flush()

    assert ProductDay.objects.get(product=bottle).visitors == 2
    assert ProductDay.objects.get(product=mug).visitors == 1
    site = SiteDay.objects.get()
    assert (site.views, site.visitors) == (3, 2)


def test_a_visitor_seen_in_an_earlier_flush_is_not_counted_again_that_day(settings: Any) -> None:
    settings.ANALYTICS_RELOAD_SECONDS = 0
    product = make_product()

    browser().get(page(product.pk))
    flush()
    browser().get(page(product.pk))
    flush()

    day = ProductDay.objects.get(product=product)
    assert (day.views, day.visitors) == (2, 1)


@pytest.mark.parametrize("header", ["DNT", "Sec-GPC"])
def test_do_not_track_and_global_privacy_control_are_honoured(header: str) -> None:
    product = make_product()

    response = browser(**{header: "1"}).get(page(product.pk))

    assert response.status_code == 200 and b"visits.js" not in response.content
    assert flush().views == 0


def test_do_not_track_is_counted_when_the_setting_is_off(settings: Any) -> None:
    settings.ANALYTICS_RESPECT_DNT = False
    product = make_product()

    browser(DNT="1").get(page(product.pk))

    assert flush().views == 1


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/131.0.0.0 Safari/537.36",
        "python-requests/2.32.3",
        "",
    ],
)
def test_crawlers_headless_browsers_and_scripts_are_not_counted(user_agent: str) -> None:
    product = make_product()

    browser(user_agent).get(page(product.pk))

    assert flush().views == 0


@pytest.mark.parametrize(
    ("header", "value"), [("Sec-Purpose", "prefetch"), ("Purpose", "prefetch")]
)
def test_prefetches_are_not_counted(header: str, value: str) -> None:
    product = make_product()

    browser(**{header: value}).get(page(product.pk))

    assert flush().views == 0


def test_forwarded_for_from_an_untrusted_peer_is_ignored() -> None:
    product = make_product()

    browser(X_FORWARDED_FOR="198.51.100.1").get(page(product.pk))
    browser(X_FORWARDED_FOR="198.51.100.2").get(page(product.pk))

    assert flush().views == 1  # one visitor reloading, whatever the header claims


def test_forwarded_for_from_a_trusted_proxy_names_the_client(settings: Any) -> None:
    settings.ANALYTICS_TRUSTED_PROXIES = ["10.0.0.0/8"]
    product = make_product()

    for client_address in ("198.51.100.1", "198.51.100.2"):
        browser(address="10.0.0.5", X_FORWARDED_FOR=f"6.6.6.6, {client_address}").get(
            page(product.pk)
        )
    flush()

    assert ProductDay.objects.get(product=product).visitors == 2


def test_client_address_takes_the_nearest_untrusted_hop(settings: Any, rf: Any) -> None:
    settings.ANALYTICS_TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = rf.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4, 5.6.7.8, 10.0.0.9")
    untrusted = rf.get("/", REMOTE_ADDR="5.5.5.5", HTTP_X_FORWARDED_FOR="1.2.3.4")

    assert visitors.client_address(request) == "5.6.7.8"
    assert visitors.client_address(untrusted) == "5.5.5.5"


def test_a_flood_from_one_address_is_capped_even_with_changing_user_agents(settings: Any) -> None:
    settings.ANALYTICS_MAX_VIEWS_PER_ADDRESS_PER_MINUTE = 3
    products = [make_product() for _ in range(6)]

    for number, product in enumerate(products):
        browser(f"{FIREFOX} build/{number}").get(page(product.pk))

    assert flush().views == 3


def test_the_api_product_detail_counts_as_an_api_visit() -> None:
    product = make_product()

    response = browser().get(f"/api/v1/products/{product.pk}")
    missing = browser().get("/api/v1/products/999999")

    assert response.status_code == 200 and missing.status_code == 404
    flush()
    assert Visit.objects.get().source == "api"


def test_api_counting_can_be_turned_off(settings: Any) -> None:
    settings.ANALYTICS_COUNT_API = False
    product = make_product()

    browser().get(f"/api/v1/products/{product.pk}")

    assert flush().views == 0


def test_visits_of_a_product_deleted_before_the_flush_are_dropped() -> None:
    product = make_product()
    browser().get(page(product.pk))
    product.delete()

    assert flush().views == 0


def test_no_ip_address_is_stored_or_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    product = make_product()
    client = browser(Referer="https://search.example/?q=bottle")

    client.get(page(product.pk))
    browser().get(f"/api/v1/products/{product.pk}")
    flush()
    key = Visit.objects.get(source="web").key
    client.post(f"/api/v1/visits/{key}/end")
    flush()

    stored = [
        str(value)
        for model in (Visit, ProductDay, SiteDay, VisitorDay, Salt)
        for row in model.objects.values()
        for value in row.values()
    ]
    assert stored and not [value for value in stored if ADDRESS in value]
    assert "search.example" in stored
    assert ADDRESS not in caplog.text
