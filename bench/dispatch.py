"""Benchmark the tracking dispatcher: one tick over 100,000 due offers (target ≤ 1 s).

    .venv/bin/python bench/dispatch.py                      # SQLite (a throw-away file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pricewatch REDIS_URL=redis://127.0.0.1:6379/15 \
        .venv/bin/python bench/dispatch.py                  # PostgreSQL + Redis (scale mode)
    .venv/bin/python bench/dispatch.py --offers 20000 --lists 1000

Builds its own database (a temp SQLite file, or a PostgreSQL database named
`pricewatch_bench_dispatch` next to DATABASE_URL's, dropped afterwards; never the developer's
`var/`): N tracked pages spread over many watchlists, every list due, plus extra lists that
watch pages already on other lists (so deduplication is exercised). Tasks go to a real broker
(a temp file-system broker, or Redis with a private queue that is deleted afterwards), so the
figures include sending.

Prints:
- a normal tick: claim every due list, mark all their pages due, lease and send the per-tick
  batch (TRACKING_DISPATCH_MAX_PAGES, default 5,000);
- an unbounded tick: lease and send every one of the 100,000 due pages at once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUEUE = "bench-dispatch"


def setup(name: str) -> tuple[Any, str]:
    var = tempfile.mkdtemp(prefix=f"pricewatch-bench-{name}-")
    os.environ["PRICEWATCH_VAR_DIR"] = var
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["PRICEWATCH_TEST_EAGER"] = "0"  # real broker: the figures include sending
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


def build(offers: int, lists: int, shared_lists: int) -> None:
    from django.db import connection

    from pricewatch.accounts.models import User
    from pricewatch.pricing.models import Offer
    from pricewatch.tracking.models import Page, WatchItem, Watchlist

    started = time.perf_counter()
    users = User.objects.bulk_create(
        [User(email=f"bench{n}@example.com", time_zone="Europe/Berlin") for n in range(100)]
    )
    rows = Offer.objects.bulk_create(
        [
            Offer(kind=Offer.Kind.PAGE, url=f"https://shop{n % 500}.example/p/{n}")
            for n in range(offers)
        ],
        batch_size=5000,
    )
    Page.objects.bulk_create(
        [Page(offer=offer, domain=f"shop{n % 500}.example") for n, offer in enumerate(rows)],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")  # nothing: keeps the connection open for the timing
    watchlists = Watchlist.objects.bulk_create(
        [
            Watchlist(owner=users[n % len(users)], name=f"List {n}", times=["09:00"])
            for n in range(lists + shared_lists)
        ],
        batch_size=5000,
    )
    per_list = max(1, offers // lists)
    items = [
        WatchItem(watchlist=watchlists[n // per_list], offer=offer)
        for n, offer in enumerate(rows)
        if n // per_list < lists
    ]
    # extra lists watching pages that are already on other lists: deduplicated by the page
    for index, watchlist in enumerate(watchlists[lists:]):
        for k in range(per_list):
            items.append(WatchItem(watchlist=watchlist, offer=rows[(index * 7919 + k) % offers]))
    WatchItem.objects.bulk_create(items, batch_size=5000)
    print(
        f"built {offers:,} pages, {lists + shared_lists:,} lists, {len(items):,} items "
        f"in {time.perf_counter() - started:.1f} s"
    )


def analyze() -> None:
    """Fresh planner statistics, as autovacuum would have them on a live database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def make_due(now: Any) -> None:
    from pricewatch.tracking.models import Page, Watchlist

    Watchlist.objects.update(next_due_at=now - timedelta(seconds=1), last_run_at=None)
    Page.objects.update(due_at=None, leased_until=None)


def route_to_private_queue() -> None:
    from pricewatch.celery import app

    app.conf.task_routes = {"pricewatch.tracking.tasks.*": {"queue": QUEUE}}


def drop_private_queue() -> None:
    from django.conf import settings

    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(QUEUE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--lists", type=int, default=5_000)
    parser.add_argument("--shared-lists", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    connection, old_name = setup("dispatch")
    try:
        route_to_private_queue()
        from django.utils import timezone

        from pricewatch.tracking import dispatch

        print(f"database: {connection.vendor}; broker: {_broker()}")
        build(args.offers, args.lists, args.shared_lists)
        analyze()
        normal, unbounded, first = [], [], None
        for _ in range(args.repeat):
            now = timezone.now()
            make_due(now)
            started = time.perf_counter()
            summary = dispatch.dispatch_due(now=now)
            normal.append(time.perf_counter() - started)
            first = first or summary

            make_due(now)
            started = time.perf_counter()
            full = dispatch.dispatch_due(now=now, max_pages=args.offers)
            unbounded.append(time.perf_counter() - started)
        print(f"normal tick {first}: median {statistics.median(normal) * 1000:.0f} ms")
        print(
            f"unbounded tick {full}: median {statistics.median(unbounded) * 1000:.0f} ms "
            f"({args.offers:,} offers leased and sent)"
        )
    finally:
        drop_private_queue()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _broker() -> str:
    from django.conf import settings

    return "redis" if settings.REDIS_URL else "file system"


if __name__ == "__main__":
    main()
