"""Benchmark the tracking pages: a list of 1,000 items, the item page, a year of chart data.

    .venv/bin/python bench/web_pages.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pricewatch .venv/bin/python bench/web_pages.py

Targets (issue 6): with 1,000 items in a list (paginated, 50 a page) the page renders in
≤ 50 ms p50 on the server; a year of chart data is ≤ 20 KB over the wire.

Builds its own database (a temp SQLite file, or a PostgreSQL database `pricewatch_bench_web`
next to DATABASE_URL's, dropped afterwards). Every item has 30 days of prices (two a day,
through the pricing door) so the sparklines have data; one item has a year. Timed through
Django's test client (middleware, session, template), which is what the server does per request.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ITEMS = 1000
RUNS = 40


def setup(name: str = "web") -> tuple[Any, str]:
    """A throw-away test database (SQLite file or pricewatch_bench_<name>) with Django set up."""
    var = tempfile.mkdtemp(prefix=f"pricewatch-bench-{name}-")
    os.environ["PRICEWATCH_VAR_DIR"] = var
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()  # allows the test client's host, keeps mail in memory

    test = connection.settings_dict["TEST"]
    sqlite = connection.vendor == "sqlite"
    database = "pricewatch_bench_" + name.replace("-", "_")
    test["NAME"] = str(Path(var) / "bench.sqlite3") if sqlite else database
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return connection, old_name


def build() -> tuple[Any, int, int]:
    from django.utils import timezone

    from pricewatch.pricing import services as pricing
    from pricewatch.pricing.models import Availability, Offer
    from pricewatch.tracking.models import Page, WatchItem, Watchlist
    from tests.accounts.factories import UserFactory

    user = UserFactory()
    watchlist = Watchlist.objects.create(owner=user, name="Big", times=["09:00"])
    now = timezone.now()
    offers = pricing.create_offers(
        [
            pricing.NewOffer(
                kind=Offer.Kind.PAGE,
                url=f"https://shop.example/p/{index}",
                title=f"Product number {index}",
                shop="shop.example",
            )
            for index in range(ITEMS)
        ]
    )
    Page.objects.bulk_create(
        Page(offer=offer, domain="shop.example", last_checked_at=now, last_status="ok")
        for offer in offers
    )
    WatchItem.objects.bulk_create(WatchItem(watchlist=watchlist, offer=offer) for offer in offers)
    observations = []
    for index, offer in enumerate(offers):
        days = 365 if index == 0 else 30
        for day in range(days, 0, -1):
            for hour in (8, 20):
                observations.append(
                    (
                        offer.pk,
                        pricing.Observation(
                            price=Decimal(100 + (index + day) % 17) + Decimal(hour) / 100,
                            currency="EUR",
                            method="bench",
                            availability=Availability.IN_STOCK,
                            observed_at=now - timedelta(days=day, hours=hour - 12),
                        ),
                    )
                )
    for start in range(0, len(observations), 20_000):
        pricing.record_prices(observations[start : start + 20_000])
    item = WatchItem.objects.get(offer=offers[0])
    return user, watchlist.pk, item.pk


def timed(client: Any, url: str) -> tuple[float, int]:
    """Median milliseconds of RUNS GETs of `url`, and the answer's size in bytes."""
    timings = []
    size = 0
    for _ in range(RUNS):
        began = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        size = len(response.content)
    return statistics.median(timings), size


def main() -> None:
    connection, old_name = setup()
    try:
        from django.test import Client

        user, watchlist_id, item_id = build()
        client = Client()
        client.force_login(user)
        client.get(f"/watchlists/{watchlist_id}/")  # warm up templates and caches
        print(f"database: {connection.vendor}, {ITEMS} items, {RUNS} runs each (p50)")
        for label, url in [
            ("list page 1 (50 of 1,000)", f"/watchlists/{watchlist_id}/"),
            ("list page 20", f"/watchlists/{watchlist_id}/?page=20"),
            ("dashboard", "/"),
            ("item page", f"/watchlists/items/{item_id}/"),
            ("chart 1y", f"/watchlists/items/{item_id}/chart?range=1y"),
            ("chart 7d", f"/watchlists/items/{item_id}/chart?range=7d"),
        ]:
            p50, size = timed(client, url)
            print(f"{label:28} {p50:7.1f} ms  {size / 1024:7.1f} KB")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
