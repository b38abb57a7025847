"""Benchmark visit analytics: ingestion of buffered views, and reports over a year of roll-ups.

    .venv/bin/python bench/analytics.py --postgres postgres://postgres@127.0.0.1:5432/pw_analytics_bench

Ingestion: 50,000 views of 2,000 products by 20,000 visitors are appended to the buffer (spool
files; the bench process is both web and worker) and written by `services.flush`, timed from the
first append to the commit (target: >= 5,000 views/s on PostgreSQL).
Reports: roll-up rows for 2,000 products over 365 days standing for 10,000,000 visits are
generated directly with bulk.insert (not through visits: that would take the ingestion path
~30 minutes) and VACUUM ANALYZEd as autovacuum would; then popular products for 30-day
windows and one product's daily stats for a year are timed (target: <= 50 ms each).
The PostgreSQL database named in the URL is dropped first.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The same throw-away var folder and fresh PostgreSQL database as the alerts bench.
from bench.alerts import prepare_environment

PRODUCTS = 2_000
VIEWS = 50_000
VISITORS = 20_000
YEAR_VISITS = 10_000_000


def seed_products() -> list[int]:
    from pricewatch.catalog import prices
    from pricewatch.catalog.models import Product
    from pricewatch.pricing import services as pricing
    from pricewatch.pricing.models import Offer

    specs = [
        pricing.NewOffer(
            kind=Offer.Kind.CATALOG,
            title=f"Product {n}",
            image_url="",
            observation=prices.observation_for(
                price=Decimal("10.00"),
                sale_price=None,
                currency="EUR",
                availability="in_stock",
                method="bench",
            ),
        )
        for n in range(PRODUCTS)
    ]
    offers = pricing.create_offers(specs)
    made = Product.objects.bulk_create(
        [
            Product(offer=offer, sku=f"B-{n}", title=f"Product {n}", link="https://s.example/")
            for n, offer in enumerate(offers)
        ]
    )
    return [product.pk for product in made]


def ingestion(product_ids: list[int], rng: random.Random) -> None:
    from pricewatch.analytics import buffer, services

    started = time.perf_counter()
    now = time.time()
    for n in range(VIEWS):
        buffer.push(
            {
                "t": "view",
                "key": f"{n:032x}",
                "product": rng.choice(product_ids),
                "visitor": f"{rng.randrange(VISITORS):032x}",
                "session": "",
                "referrer": "search.example",
                "agent": "Firefox",
                "source": "web",
                "at": now,
            }
        )
    appended = time.perf_counter()
    report = services.flush(include_open=True)
    done = time.perf_counter()
    assert report is not None and report.views == VIEWS, report
    print(
        f"  appended {VIEWS:,} views in {appended - started:.2f} s "
        f"({VIEWS / (appended - started):,.0f}/s, the request's share)"
    )
    print(
        f"  flushed {VIEWS:,} views in {done - appended:.2f} s ({VIEWS / (done - appended):,.0f}/s)"
    )
    print(f"  ingestion end to end: {VIEWS / (done - started):,.0f} views/s (target >= 5,000)")


def seed_year(product_ids: list[int], rng: random.Random) -> date:
    from pricewatch.analytics.models import ProductDay
    from pricewatch.core import bulk

    ProductDay.objects.all().delete()
    first = date(2025, 1, 1)
    per_row = YEAR_VISITS // (len(product_ids) * 365)
    rows = []
    for offset in range(365):
        day = bulk.adapt_date(first + timedelta(days=offset))
        for product in product_ids:
            views = max(1, int(rng.expovariate(1 / per_row)))
            rows.append([product, day, views, views // 2, views * 40, views // 3])
    started = time.perf_counter()
    bulk.insert(
        ProductDay, ["product_id", "day", "views", "visitors", "duration_seconds", "bounces"], rows
    )
    from django.db import connection

    if connection.vendor == "postgresql":
        # What autovacuum does after a load this size; the visibility map lets the covering
        # index answer without visiting the table.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE analytics_productday")
    total = sum(row[2] for row in rows)
    print(
        f"  generated {len(rows):,} roll-up rows directly ({total:,} visits' worth) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return first


def timed(label: str, call, repeats: int = 20) -> None:
    call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    print(
        f"  {label}: median {statistics.median(samples):.1f} ms, "
        f"max {max(samples):.1f} ms (target <= 50 ms)"
    )


def reports(product_ids: list[int], first: date, rng: random.Random) -> None:
    from pricewatch.analytics import selectors

    def popular() -> None:
        start = first + timedelta(days=rng.randrange(300))
        rows = selectors.popular(selectors.Period(start, start + timedelta(days=29)), limit=20)
        assert len(rows) == 20

    def year() -> None:
        days = selectors.product_days(
            rng.choice(product_ids), selectors.Period(first, first + timedelta(days=364))
        )
        assert len(days) == 365

    timed("popular products, random 30-day window", popular)
    timed("one product's daily stats for a year", year)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="PostgreSQL URL (database dropped and recreated)")
    arguments = parser.parse_args()
    prepare_environment(arguments.postgres, None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.db import connection

    from pricewatch.analytics import services

    print(f"analytics bench on {connection.vendor}")
    rng = random.Random(7)
    services.ensure_salts()
    product_ids = seed_products()
    ingestion(product_ids, rng)
    first = seed_year(product_ids, rng)
    reports(product_ids, first, rng)


if __name__ == "__main__":
    main()
