"""Benchmark the catalog, import and alerts pages with 1,000 rows each.

    .venv/bin/python bench/web_catalog_pages.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pricewatch \
        .venv/bin/python bench/web_catalog_pages.py

Targets (issue 6): pages over 1,000 rows (paginated) render in <= 50 ms p50 on the server; a
year of chart data is <= 20 KB over the wire.

Builds its own database (a temp SQLite file, or a PostgreSQL database
`pricewatch_bench_web_catalog` next to DATABASE_URL's, dropped afterwards): 1,000 products
imported from a generated feed (through the real import), one product with a year of prices
(three a day, through the pricing door), and 1,000 notifications and watch items for one
user. Facet and count caching is off, so every request counts the facets afresh. Timed
through Django's test client (middleware, session, template), as the server does per request.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import web_pages  # noqa: E402  (the sibling benchmark: database set-up and timing)

PRODUCTS = 1000
NOTIFICATIONS = 1000
RUNS = web_pages.RUNS
BRANDS = ("Hydra", "Mugsy", "Steelworks", "Kettleworks", "Brewmaster")
COLOURS = ("blue", "green", "red", "white", "black", "grey")


def setup() -> tuple[Any, str]:
    connection, old_name = web_pages.setup("web-catalog")
    from django.conf import settings

    settings.CATALOG_FACET_CACHE_SECONDS = 0  # measure the pages, not the cache
    return connection, old_name


def feed(path: Path) -> None:
    items = []
    for number in range(PRODUCTS):
        items.append(
            "<item>"
            f"<g:id>BENCH-{number:05d}</g:id>"
            f"<g:title>Bottle model {number}</g:title>"
            f"<g:description>A steel bottle, model {number}.</g:description>"
            f"<g:link>https://shop.example/p/{number}</g:link>"
            f"<g:image_link>https://shop.example/img/{number}.jpg</g:image_link>"
            f"<g:price>{10 + number % 90}.00 EUR</g:price>"
            f"<g:availability>{'in stock' if number % 7 else 'out of stock'}</g:availability>"
            f"<g:brand>{BRANDS[number % len(BRANDS)]}</g:brand>"
            f"<g:color>{COLOURS[number % len(COLOURS)]}</g:color>"
            f"<g:size>{500 + 250 * (number % 3)} ml</g:size>"
            "<g:condition>new</g:condition>"
            "</item>"
        )
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0"><channel><title>Bench</title>'
        + "".join(items)
        + "</channel></rss>\n"
    )


def build(folder: Path) -> tuple[Any, int, int]:
    from django.utils import timezone

    from pricewatch.alerts.models import AlertRule, Channel, Notification
    from pricewatch.catalog import imports
    from pricewatch.catalog.models import Product
    from pricewatch.pricing import services as pricing
    from pricewatch.pricing.models import Availability
    from pricewatch.tracking.models import WatchItem, Watchlist
    from tests.accounts.factories import UserFactory

    path = folder / "feed.xml"
    feed(path)
    job = imports.run_import(imports.start_import(path=path, enqueue=False).pk)
    assert job.status == "succeeded", job.error
    product = Product.objects.order_by("pk").first()
    assert product is not None
    now = timezone.now()
    observations = [
        (
            product.offer_id,
            pricing.Observation(
                price=Decimal(2000 + (day * 37 + hour) % 700) / 100,
                currency="EUR",
                method="bench",
                availability=Availability.IN_STOCK,
                observed_at=now - timedelta(days=day, hours=hour),
            ),
        )
        for day in range(365, 0, -1)
        for hour in (18, 12, 6)
    ]
    pricing.record_prices(observations)

    user = UserFactory(is_staff=True)
    channel = Channel.objects.create(owner=user, kind="email", target="bench@example.com")
    offers = list(Product.objects.values_list("offer_id", flat=True)[:NOTIFICATIONS])
    Notification.objects.bulk_create(
        Notification(
            owner=user,
            channel=channel,
            offer_id=offer_id,
            dedupe_key=f"bench-{number}",
            kind=AlertRule.Kind.DROP_FROM_FIRST,
            fired_at=now,
            due_at=now,
            status=Notification.Status.FAILED if number % 5 == 0 else Notification.Status.SENT,
            attempts=1,
            old_price=Decimal("20.00"),
            new_price=Decimal("12.00"),
            currency="EUR",
        )
        for number, offer_id in enumerate(offers)
    )
    # The alerts page's rule form offers each of the user's items: give them 1,000.
    watchlist = Watchlist.objects.create(owner=user, name="Bench", times=["09:00"])
    WatchItem.objects.bulk_create(
        WatchItem(watchlist=watchlist, offer_id=offer_id) for offer_id in offers
    )
    return user, product.pk, job.pk


def main() -> None:
    connection, old_name = setup()
    try:
        from django.test import Client

        user, product_id, job_id = build(Path(os.environ["PRICEWATCH_VAR_DIR"]))
        anonymous = Client()
        client = Client()
        client.force_login(user)
        anonymous.get("/catalog/")  # warm up templates
        client.get("/notifications/")
        print(f"database: {connection.vendor}, {PRODUCTS} products, {RUNS} runs each (p50)")
        for label, browser, url in [
            ("catalog page 1 (24 of 1,000)", anonymous, "/catalog/"),
            ("catalog page 40", anonymous, "/catalog/?page=40"),
            ("catalog brand+colour", anonymous, "/catalog/?brand=Hydra&color=blue&sort=price"),
            ("catalog search", anonymous, "/catalog/?q=bottle+model+12"),
            ("catalog htmx partial", anonymous, "/catalog/?brand=Mugsy"),
            ("product page", anonymous, f"/catalog/{product_id}/"),
            ("chart 1y", anonymous, f"/catalog/{product_id}/chart?range=1y"),
            ("chart all", anonymous, f"/catalog/{product_id}/chart?range=all"),
            ("import report (1,000 rows)", client, f"/catalog/imports/{job_id}/"),
            ("alerts (1,000 notifications)", client, "/notifications/"),
            ("profile", client, "/profile/"),
        ]:
            if label == "catalog htmx partial":
                browser.defaults.update(HTTP_HX_REQUEST="true", HTTP_HX_TARGET="catalog-results")
            p50, size = web_pages.timed(browser, url)
            browser.defaults.pop("HTTP_HX_REQUEST", None)
            browser.defaults.pop("HTTP_HX_TARGET", None)
            print(f"{label:30} {p50:7.1f} ms  {size / 1024:7.1f} KB")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
