"""The catalog pages (Django test client): list, facets, detail, chart JSON, feed imports."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from pricewatch.catalog.models import ImportJob, Product
from pricewatch.pricing import services as pricing
from pricewatch.pricing.models import Availability
from pricewatch.tracking.models import WatchItem
from tests.accounts.factories import UserFactory
from tests.catalog.factories import make_product
from tests.catalog.test_imports import item, rss
from tests.tracking.factories import make_watchlist

pytestmark = pytest.mark.django_db
FEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"


@pytest.fixture(autouse=True)
def _isolated(settings: Any, tmp_path: Path) -> None:
    settings.IMPORT_DIR = tmp_path / "imports"
    settings.CATALOG_FACET_CACHE_SECONDS = 0


def titles(html: str) -> list[str]:
    return re.findall(r'<h3><a href="/catalog/\d+/">([^<]+)</a></h3>', html)


def shop() -> None:
    make_product(title="Alpha bottle", brand="Hydra", price="30.00", color="blue")
    make_product(title="Beta bottle", brand="Hydra", price="10.00", color="red")
    make_product(title="Gamma mug", brand="Mugsy", price="20.00", color="blue")
    make_product(title="Delta mug", brand="Mugsy", price="5.00", availability="out_of_stock")
    make_product(title="Hidden thing", brand="Hydra", active=False)


# --- list ----------------------------------------------------------------------------------


def test_list_shows_active_products_with_facet_counts(client: Client) -> None:
    shop()

    html = client.get("/catalog/").content.decode()

    assert sorted(titles(html)) == ["Alpha bottle", "Beta bottle", "Delta mug", "Gamma mug"]
    assert "4 products" in html
    assert re.search(r"Hydra <span class=\"muted\">\(2\)</span>", html)
    assert re.search(r"Mugsy <span class=\"muted\">\(2\)</span>", html)
    assert re.search(r"Out of stock <span class=\"muted\">\(1\)</span>", html)
    assert "Hidden thing" not in html


def test_ticking_a_brand_narrows_the_list_but_keeps_the_other_brands_counts(
    client: Client,
) -> None:
    shop()

    html = client.get("/catalog/", {"brand": "Hydra"}).content.decode()

    assert sorted(titles(html)) == ["Alpha bottle", "Beta bottle"]
    # disjunctive: the brand facet still offers Mugsy with its own count
    assert re.search(r'value="Mugsy"\s*>', html)
    assert re.search(r'value="Hydra" checked>', html)
    assert re.search(r"Mugsy <span class=\"muted\">\(2\)</span>", html)
    # the other facets are counted under the brand filter: only Hydra's colours
    assert re.search(r"blue <span class=\"muted\">\(1\)</span>", html)
    assert "Brand: Hydra" in html  # the chip that removes the filter


def test_search_price_range_and_sorting(client: Client) -> None:
    shop()

    found = client.get("/catalog/", {"q": "mug"}).content.decode()
    cheap_first = client.get("/catalog/", {"sort": "price"}).content.decode()
    dear_first = client.get("/catalog/", {"sort": "-price", "price_min": "10"}).content.decode()

    assert sorted(titles(found)) == ["Delta mug", "Gamma mug"]
    assert titles(cheap_first) == ["Delta mug", "Beta bottle", "Gamma mug", "Alpha bottle"]
    assert titles(dear_first) == ["Alpha bottle", "Gamma mug", "Beta bottle"]


def test_an_unknown_sort_and_a_reversed_price_range_are_explained(client: Client) -> None:
    shop()

    html = client.get("/catalog/", {"sort": "secret", "price_min": "9", "price_max": "2"})

    text = html.content.decode()
    assert html.status_code == 200
    assert "Select a valid choice" in text
    assert "The maximum price is below the minimum price." in text


def test_pagination_keeps_the_filters_in_its_links(client: Client) -> None:
    for number in range(30):
        make_product(title=f"Bottle {number:02d}", brand="Hydra")
    make_product(title="Other", brand="Mugsy")

    first = client.get("/catalog/", {"brand": "Hydra", "sort": "title"}).content.decode()
    second = client.get("/catalog/", {"brand": "Hydra", "sort": "title", "page": 2})

    assert "Page 1 of 2" in first
    assert 'href="?brand=Hydra&amp;sort=title&amp;page=2"' in first
    assert titles(second.content.decode()) == [f"Bottle {n}" for n in range(24, 30)]
    assert client.get("/catalog/", {"page": 9}).status_code == 404


def test_htmx_requests_get_only_the_results(client: Client) -> None:
    shop()

    response = client.get(
        "/catalog/", {"brand": "Mugsy"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="catalog-results"
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<div class="catalog" id="catalog-results">')
    assert "<html" not in html
    assert sorted(titles(html)) == ["Delta mug", "Gamma mug"]


def test_no_match_offers_to_clear_the_filters(client: Client) -> None:
    shop()

    html = client.get("/catalog/", {"q": "piano"}).content.decode()

    assert "No products match" in html
    assert 'href="/catalog/">clear the filters</a>' in html


def test_a_sale_shows_the_regular_price_struck_through(client: Client) -> None:
    make_product(title="On sale", price="30.00", sale_price="24.00")
    make_product(title="Full price", price="12.00")

    html = client.get("/catalog/").content.decode()

    assert '<s class="muted small" aria-label="regular price">€30.00</s>' in html
    assert html.count('aria-label="regular price"') == 1


def test_the_list_page_query_count_does_not_grow_with_products(client: Client) -> None:
    for number in range(3):
        make_product(title=f"Few {number}", brand=f"B{number}", sale_price="1.00")
    with CaptureQueriesContext(connection) as few:
        assert client.get("/catalog/").status_code == 200
    for number in range(30):
        make_product(
            title=f"More {number}", brand=f"B{number}", color=f"c{number}", sale_price="1.00"
        )
    with CaptureQueriesContext(connection) as many:
        assert client.get("/catalog/").status_code == 200

    assert len(many) == len(few)
    assert len(many) <= 4


# --- one product ---------------------------------------------------------------------------


def test_detail_shows_attributes_prices_and_the_chart_box(client: Client) -> None:
    product = make_product(
        title="Alpha bottle",
        brand="Hydra",
        price="30.00",
        sale_price="24.00",
        gtin="4006381333931",
        color="blue",
        size="750 ml",
        extra={"material": "steel"},
    )

    html = client.get(f"/catalog/{product.pk}/").content.decode()

    assert "<h1>Alpha bottle</h1>" in html
    assert "€24.00" in html and "€30.00" in html  # sale and regular price
    for value in ("4006381333931", "750 ml", "Material", "steel"):
        assert value in html
    assert f'data-url="/catalog/{product.pk}/chart"' in html
    assert 'data-range="1y"' in html
    assert "Log in to watch this product" in html


def test_inactive_products_are_404_except_for_admins(client: Client) -> None:
    product = make_product(active=False)

    anonymous = client.get(f"/catalog/{product.pk}/")
    chart = client.get(f"/catalog/{product.pk}/chart")
    client.force_login(UserFactory())
    signed_in = client.get(f"/catalog/{product.pk}/")
    client.force_login(UserFactory(is_staff=True))
    admin = client.get(f"/catalog/{product.pk}/")

    assert (anonymous.status_code, chart.status_code, signed_in.status_code) == (404, 404, 404)
    assert admin.status_code == 200
    assert "only administrators can see it" in admin.content.decode()
    assert client.get("/catalog/999999/").status_code == 404


def _year_of_prices(product: Product, now: datetime) -> None:
    observations = []
    for day in range(365, 0, -1):
        for hour in (6, 12, 18):
            cents = 2000 + (day * 7 + hour) % 500
            observations.append(
                (
                    product.offer_id,
                    pricing.Observation(
                        price=Decimal(cents) / 100,
                        currency="EUR",
                        method="test",
                        availability=Availability.IN_STOCK,
                        observed_at=now - timedelta(days=day) + timedelta(hours=hour),
                    ),
                )
            )
    pricing.record_prices(observations)


def test_chart_json_for_a_year_is_daily_closes_under_20_kb(client: Client) -> None:
    product = make_product(price="25.00")
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    _year_of_prices(product, now)

    response = client.get(f"/catalog/{product.pk}/chart", {"range": "1y"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert len(response.content) <= 20 * 1024, len(response.content)
    data = json.loads(response.content)
    assert set(data) == {"currency", "t", "series", "first", "lowest", "highest"}
    assert data["currency"] == "EUR"
    assert 360 <= len(data["t"]) <= 367  # one point per day
    assert data["t"] == sorted(data["t"]) and all(isinstance(t, int) for t in data["t"])
    (series,) = data["series"]
    assert len(series["values"]) == len(data["t"])
    assert all(re.fullmatch(r"\d+\.\d\d", v) for v in series["values"] if v is not None)
    assert data["first"] == "25.00"
    assert Decimal(data["lowest"]) <= min(Decimal(v) for v in series["values"])


def test_chart_json_for_a_week_has_every_observation(client: Client) -> None:
    product = make_product(price="25.00")
    now = datetime.now(UTC)
    for hours, price in ((30, "24.00"), (20, "23.00"), (10, "22.00")):
        pricing.record_price(
            product.offer,
            price=Decimal(price),
            currency="EUR",
            method="test",
            availability=Availability.IN_STOCK,
            observed_at=now - timedelta(hours=hours),
        )

    data = client.get(f"/catalog/{product.pk}/chart", {"range": "7d"}).json()
    bad = client.get(f"/catalog/{product.pk}/chart", {"range": "5y"})

    daily = client.get(f"/catalog/{product.pk}/chart", {"range": "30d"}).json()

    # every observation: the first price (now) and the three back-dated ones
    assert sorted(data["series"][0]["values"]) == ["22.00", "23.00", "24.00", "25.00"]
    assert len(data["t"]) == 4
    # one daily close per UTC day with a price, then the current price drawn on to now
    # (when today's close is an hour old or more)
    days = {(now - timedelta(hours=hours)).date() for hours in (30, 20, 10, 0)}
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    drawn_on = now - midnight >= timedelta(hours=1)
    assert len(daily["t"]) == len(days) + drawn_on
    assert daily["series"][0]["values"][-1] == "22.00"
    assert bad.status_code == 400


def test_watch_adds_the_product_to_a_list_of_the_user(client: Client) -> None:
    product = make_product(title="Alpha bottle")
    user = UserFactory()
    watchlist = make_watchlist(owner=user, name="Kitchen")
    client.force_login(user)

    page = client.get(f"/catalog/{product.pk}/").content.decode()
    response = client.post(f"/catalog/{product.pk}/watch", {"watchlist": watchlist.pk})
    again = client.post(f"/catalog/{product.pk}/watch", {"watchlist": watchlist.pk}, follow=True)

    assert "Watch this product" in page and "Kitchen" in page
    assert response.status_code == 302
    assert WatchItem.objects.filter(watchlist=watchlist, offer=product.offer).count() == 1
    assert "already on the list" in again.content.decode()


def test_watch_creates_a_first_list_and_needs_sign_in(client: Client) -> None:
    product = make_product()
    user = UserFactory()

    anonymous = client.post(f"/catalog/{product.pk}/watch", {"watchlist": "new"})
    client.force_login(user)
    client.post(f"/catalog/{product.pk}/watch", {"watchlist": "new", "new_list": "Wishes"})
    other = make_watchlist(owner=UserFactory())
    refused = client.post(f"/catalog/{product.pk}/watch", {"watchlist": other.pk}, follow=True)

    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert WatchItem.objects.get().watchlist.name == "Wishes"
    assert not WatchItem.objects.filter(watchlist=other).exists()
    assert "No watchlist with id" in refused.content.decode()


# --- feed imports --------------------------------------------------------------------------


def _upload(client: Client, content: bytes, name: str = "feed.xml", **fields: Any) -> Any:
    data = {"file": SimpleUploadedFile(name, content, "application/xml"), **fields}
    return client.post("/catalog/imports/", data)


def test_an_admin_uploads_a_feed_and_sees_the_report(
    client: Client, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    client.force_login(UserFactory(is_staff=True))

    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, (FEEDS / "rss_valid.xml").read_bytes())

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/catalog/imports/{job.pk}/"
    html = client.get(response["Location"]).content.decode()
    assert job.status == "succeeded"
    assert "Succeeded" in html
    assert re.search(r"<dt>Created</dt><dd>3</dd>", html)
    assert "TV-22LB4510" in html  # a report row
    assert "every 1s" not in html  # finished: no polling
    listing = client.get("/catalog/imports/").content.decode()
    assert "feed.xml" in listing
    assert f'href="/catalog/imports/{job.pk}/"' in listing


def test_report_rows_filter_by_outcome(
    client: Client, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    client.force_login(UserFactory(is_staff=True))
    feed = rss(item(sku="GOOD"), item(sku="BAD", price="-1 USD"))
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, feed)
    job = ImportJob.objects.get()

    rejected = client.get(f"/catalog/imports/{job.pk}/", {"outcome": "rejected"}).content.decode()
    created = client.get(f"/catalog/imports/{job.pk}/", {"outcome": "created"}).content.decode()

    assert "BAD" in rejected and "GOOD" not in rejected
    assert "GOOD" in created and "BAD" not in created


def test_a_running_job_page_polls_and_a_finished_poll_reloads(client: Client) -> None:
    from pricewatch.catalog import imports

    client.force_login(UserFactory(is_staff=True))
    job = imports.start_import(upload=_bytes(rss(item(sku="A"))), filename="f.xml")
    ImportJob.objects.filter(pk=job.pk).update(status="running", total=10, processed=4)

    page = client.get(f"/catalog/imports/{job.pk}/").content.decode()
    poll = client.get(
        f"/catalog/imports/{job.pk}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-progress"
    )
    ImportJob.objects.filter(pk=job.pk).update(status="queued")
    assert imports.run_import(job.pk).status == "succeeded"
    done = client.get(
        f"/catalog/imports/{job.pk}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-progress"
    )

    assert 'hx-trigger="every 1s"' in page and 'aria-live="polite"' in page
    assert '<progress max="10" value="4"' in page
    assert "<html" not in poll.content.decode()
    assert "4 of 10" in poll.content.decode()
    assert done["HX-Refresh"] == "true"


def test_a_failed_import_shows_the_error_with_line_and_column(
    client: Client, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    client.force_login(UserFactory(is_staff=True))
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, rss(item(sku="A"), item(sku="B"))[:-30])
    job = ImportJob.objects.get()

    html = client.get(f"/catalog/imports/{job.pk}/").content.decode()

    assert job.status == "failed"
    assert re.search(r"The import failed at line \d+, column \d+", html)
    assert "truncated or malformed document" in html


def test_non_xml_and_too_large_files_are_refused_with_a_message(
    client: Client, settings: Any
) -> None:
    client.force_login(UserFactory(is_staff=True))

    not_xml = _upload(client, b"sku,title,price\nA,Mug,3.00\n", name="feed.csv")
    settings.MAX_UPLOAD_BYTES = 100
    too_large = _upload(client, rss(item(sku="A")))

    assert not_xml.status_code == 400
    assert "This is not an XML feed" in not_xml.content.decode()
    assert too_large.status_code == 400
    assert "feeds can be at most 100" in too_large.content.decode()
    assert not ImportJob.objects.exists()


def test_imports_are_for_admins_only(client: Client) -> None:
    anonymous = client.get("/catalog/imports/")
    client.force_login(UserFactory())
    member = client.get("/catalog/imports/")
    upload = _upload(client, rss(item(sku="A")))

    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert member.status_code == 403
    assert upload.status_code == 403
    assert not ImportJob.objects.exists()


def _bytes(content: bytes) -> Any:
    import io

    return io.BytesIO(content)


def test_the_upload_page_takes_feeds_up_to_the_upload_limit_not_the_request_limit(
    settings: Any,
) -> None:
    from pricewatch.core.asgi_limits import limit_for_path

    settings.MAX_REQUEST_BYTES, settings.MAX_UPLOAD_BYTES = 1000, 5000

    assert limit_for_path("/catalog/imports/") == 5000
    assert limit_for_path("/catalog/") == 1000
