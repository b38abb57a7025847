"""Benchmark price history reads: a one-year daily series, and "30 % below the first price".

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pricewatch .venv/bin/python bench/history.py
    .venv/bin/python bench/history.py            # SQLite: 1,000,000 points (see below)

Targets (PostgreSQL, 10,000,000 price points over 100,000 offers): the one-year daily series of
one product ≤ 10 ms; "offers 30 % or more below their first price" over 100,000 offers
≤ 100 ms.

Builds its own database (a temp SQLite file, or a PostgreSQL database named
`pricewatch_bench_history` next to DATABASE_URL's, dropped afterwards; never the developer's
`var/`). The rows are generated inside the database (generate_series on PostgreSQL, a recursive
CTE on SQLite): `--points-per-offer` points per offer, one a day, with the daily roll-up
(`PriceDay`) to match, and one product with a full year of points. On SQLite the default is
10 points per offer (1,000,000 in all) so the run stays short; pass `--points-per-offer 100`
for the full 10,000,000.

The series is measured end to end as the API builds it (query + columnar payload + JSON), the
drop query as the selector's count and as the ids of every matching offer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START = datetime(2025, 1, 1, tzinfo=UTC)


def setup(name: str) -> tuple[Any, str]:
    var = tempfile.mkdtemp(prefix=f"pricewatch-bench-{name}-")
    os.environ["PRICEWATCH_VAR_DIR"] = var
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()
    from django.db import connection

    test = connection.settings_dict["TEST"]
    if connection.vendor == "sqlite":
        test["NAME"] = str(Path(var) / "bench.sqlite3")
    else:
        test["NAME"] = f"pricewatch_bench_{name}"
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return connection, old_name


def series(vendor: str, name: str, count: int) -> tuple[str, str]:
    """(WITH prefix, FROM item) giving integers 0..count-1 as `name`.x."""
    if vendor == "postgresql":
        return "", f"generate_series(0, {count - 1}) AS {name}(x)"
    return (
        f"WITH RECURSIVE {name}(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM {name} "
        f"WHERE x < {count - 1}) ",
        name,
    )


def build(offers: int, per_offer: int) -> int:
    """Offers, points and days, generated in the database; returns the year-long offer's id."""
    from django.db import connection

    from pricewatch.catalog.models import Product
    from pricewatch.pricing import services as pricing
    from pricewatch.pricing.models import Availability, Offer

    vendor = connection.vendor
    started = time.perf_counter()
    now = datetime.now(UTC).isoformat() if vendor == "postgresql" else "2026-01-01 00:00:00"
    with_offers, from_offers = series(vendor, "o", offers)
    # First price 100 + (id mod 50); current price drops by (id mod 50) % for a spread of drops.
    with connection.cursor() as cursor:
        cursor.execute(
            f"{with_offers}INSERT INTO pricing_offer (kind, title, image_url, url, shop, currency, "
            "price, availability, first_price, lowest_price, highest_price, observation_count, "
            "created_at, updated_at) "
            "SELECT 'catalog', 'Product ' || o.x, '', NULL, 'bench', 'EUR', "
            "(100 + (o.x %% 50)) * (100 - (o.x %% 50)) / 100.0, 'in_stock', 100 + (o.x %% 50), "
            "(100 + (o.x %% 50)) * (100 - (o.x %% 50)) / 100.0, 100 + (o.x %% 50), "
            f"{per_offer}, %s, %s FROM {from_offers}",
            [now, now],
        )
        cursor.execute("SELECT min(id), max(id) FROM pricing_offer")
        low, high = cursor.fetchone()
    print(f"  {offers:,} offers in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    base = START.isoformat() if vendor == "postgresql" else START.strftime("%Y-%m-%d %H:%M:%S")
    with_days, from_days = series(vendor, "d", per_offer)
    if vendor == "postgresql":
        at = "%s::timestamptz + d.x * interval '1 day'"
        day = "(%s::timestamptz + d.x * interval '1 day')::date"
    else:
        at = "datetime(%s, '+' || d.x || ' days')"
        day = "date(%s, '+' || d.x || ' days')"
    price = "(100 + (offer.id %% 50)) - (d.x %% 7)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"{with_days}INSERT INTO pricing_pricepoint (offer_id, observed_at, price, "
            "regular_price, currency, availability, method) "
            f"SELECT offer.id, {at}, {price}, NULL, 'EUR', 'in_stock', 'bench' "
            f"FROM pricing_offer offer, {from_days} ORDER BY offer.id, d.x",
            [base],
        )
    points = offers * per_offer
    print(f"  {points:,} price points in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"{with_days}INSERT INTO pricing_priceday (offer_id, day, low, high, close, close_at, "
            "currency, availability, points) "
            f"SELECT offer.id, {day}, {price}, {price}, {price}, {at}, 'EUR', 'in_stock', 1 "
            f"FROM pricing_offer offer, {from_days} ORDER BY offer.id, d.x",
            [base, base],
        )
    print(f"  {points:,} daily roll-ups in {time.perf_counter() - started:.1f} s")

    # One product with a full year, several points a day, recorded through the door.
    started = time.perf_counter()
    offer = pricing.create_offer(kind=Offer.Kind.CATALOG, title="The year-long product")
    observations = [
        (
            offer.pk,
            pricing.Observation(
                price=pricing.Decimal(200 + (day % 30)) + pricing.Decimal(hour) / 10,
                currency="EUR",
                method="bench",
                availability=Availability.IN_STOCK,
                observed_at=START + timedelta(days=day, hours=hour * 6),
            ),
        )
        for day in range(365)
        for hour in range(4)
    ]
    pricing.record_prices(observations)
    Product.objects.create(
        sku="YEAR", title="The year-long product", price=200, currency="EUR", offer=offer
    )
    print(f"  one product with a year of points in {time.perf_counter() - started:.1f} s")
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE pricing_offer")
            cursor.execute("VACUUM ANALYZE pricing_priceday")
            cursor.execute("VACUUM ANALYZE pricing_pricepoint")
    del low, high
    return offer.pk


def timed(function: Any, repeat: int) -> tuple[float, float, Any]:
    durations = []
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        durations.append(time.perf_counter() - started)
    durations.sort()
    p99 = durations[min(len(durations) - 1, int(len(durations) * 0.99))]
    return statistics.median(durations) * 1000, p99 * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--points-per-offer", type=int, default=None)
    args = parser.parse_args()

    connection, old_name = setup("history")
    try:
        from decimal import Decimal

        from django.core.serializers.json import DjangoJSONEncoder

        from pricewatch.pricing import selectors
        from pricewatch.pricing.models import Offer
        from pricewatch.pricing.schemas import history_payload

        vendor = connection.vendor
        per_offer = args.points_per_offer or (100 if vendor == "postgresql" else 10)
        print(f"database: {vendor}")
        offer_id = build(args.offers, per_offer)
        total = Offer.objects.count()
        from pricewatch.pricing.models import PricePoint

        points = PricePoint.objects.count() if vendor == "sqlite" else args.offers * per_offer
        print(f"{total:,} offers, ~{points:,} price points")

        year_start, year_end = START, START + timedelta(days=364, hours=23)

        def year_series() -> bytes:
            offer = Offer.objects.get(pk=offer_id)
            history = selectors.daily_history(offer, year_start, year_end)
            return json.dumps(history_payload(history), cls=DjangoJSONEncoder).encode()

        median, p99, body = timed(year_series, 300)
        print(
            f"one-year daily series of one product: median {median:.2f} ms, p99 {p99:.2f} ms, "
            f"{len(body):,} bytes (target ≤ 10 ms, ≤ 20 KB)"
        )

        def drops_count() -> int:
            return selectors.offers_below_first(percent=Decimal(30)).count()

        def drops_ids() -> list[int]:
            return list(
                selectors.offers_below_first(percent=Decimal(30)).values_list("id", flat=True)
            )

        median, p99, found = timed(drops_count, 30)
        print(
            f"offers ≥ 30 % below their first price (count): median {median:.1f} ms, "
            f"p99 {p99:.1f} ms, {found:,} of {total:,} offers (target ≤ 100 ms)"
        )
        median, p99, ids = timed(drops_ids, 30)
        print(f"  … and their ids: median {median:.1f} ms, p99 {p99:.1f} ms ({len(ids):,} ids)")
        page = list(
            selectors.offers_below_first(percent=Decimal(30)).order_by("id")[:20].values("id")
        )
        median, p99, _ = timed(
            lambda: list(
                selectors.offers_below_first(percent=Decimal(30)).order_by("id")[:20].values("id")
            ),
            30,
        )
        print(f"  … a first page of 20: median {median:.1f} ms, p99 {p99:.1f} ms ({len(page)})")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
