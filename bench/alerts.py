"""Benchmark alerts: evaluation of price changes against rules, and e-mail delivery.

    .venv/bin/python bench/alerts.py                      # SQLite in a temp folder
    .venv/bin/python bench/alerts.py --postgres postgres://postgres@127.0.0.1:5432/pricewatch_bench_alerts

Builds 20,000 users with 2 lists of 5 items each (200,000 watch items over 100,000 offers) and
100,000 rules (every user's default "30 % below first" rule for all items, 40,000 list rules
and 40,000 item rules of the other kinds), records 10,000 price changes through the price door
(a third of them 35 % drops, the rest small moves and stock changes), then times one
evaluation of the 10,000 changes (target: <= 2 s on PostgreSQL) and the delivery of 1,000
alert mails to a local aiosmtpd server over one connection per batch (target: >= 50/s).
The PostgreSQL database named in the URL is dropped and created afresh.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

USERS = 20_000
OFFERS = 100_000
CHANGES = 10_000
MAILS = 1_000


def prepare_environment(postgres: str | None, reuse: str | None) -> None:
    var = reuse or tempfile.mkdtemp(prefix="pricewatch-bench-alerts-")
    os.environ["PRICEWATCH_VAR_DIR"] = var
    os.environ["PRICEWATCH_ENV_FILE"] = "/nonexistent"
    os.environ["DJANGO_SETTINGS_MODULE"] = "pricewatch.settings"
    os.environ.pop("REDIS_URL", None)
    if postgres:
        import psycopg

        parts = urlsplit(postgres)
        name = parts.path.lstrip("/")
        admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
        with psycopg.connect(admin, autocommit=True) as connection:
            if not reuse:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = postgres
    else:
        os.environ.pop("DATABASE_URL", None)


def build(rng: random.Random) -> list[int]:
    from django.conf import settings

    from pricewatch.accounts.models import User
    from pricewatch.alerts.models import AlertPreferences, AlertRule, Channel
    from pricewatch.pricing import services as pricing
    from pricewatch.pricing.models import Availability, Offer
    from pricewatch.tracking.models import WatchItem, Watchlist

    settings.PRICEWATCH_PRICE_CHANGE_CONSUMERS = []  # the bench calls evaluation itself
    started = time.perf_counter()
    users = User.objects.bulk_create(
        [User(email=f"user{n}@bench.example", password="!") for n in range(USERS)],
        batch_size=5000,
    )
    offers = pricing.create_offers(
        [
            pricing.NewOffer(
                kind=Offer.Kind.PAGE,
                url=f"https://shop.example/p/{n}",
                title=f"Product {n}",
                image_url=f"https://shop.example/img/{n}.jpg",
                observation=pricing.Observation(
                    price=Decimal(rng.randint(1000, 100_000)) / 100,
                    currency="EUR",
                    method="bench",
                    availability=Availability.IN_STOCK,
                ),
            )
            for n in range(OFFERS)
        ]
    )
    lists = Watchlist.objects.bulk_create(
        [Watchlist(owner=user, name=name) for user in users for name in ("A", "B")],
        batch_size=5000,
    )
    items = []
    for watchlist in lists:
        for offer in rng.sample(offers, 5):
            target = offer.price * Decimal("0.8") if rng.random() < 0.3 else None
            items.append(WatchItem(watchlist=watchlist, offer=offer, target_price=target))
    items = WatchItem.objects.bulk_create(items, batch_size=5000)
    AlertPreferences.objects.bulk_create(
        [AlertPreferences(user=user) for user in users], batch_size=5000
    )
    Channel.objects.bulk_create(
        [Channel(owner=user, kind=Channel.Kind.EMAIL) for user in users], batch_size=5000
    )
    rules = [
        AlertRule(
            owner=user, kind="drop_from_first", scope="all", percent=Decimal(30), is_default=True
        )
        for user in users
    ]
    other_kinds = [
        {"kind": "drop_from_previous", "percent": Decimal(10)},
        {"kind": "target_price"},
        {"kind": "back_in_stock"},
        {"kind": "lowest_in_days", "days": 30},
    ]
    owner_of = {watchlist.pk: watchlist.owner_id for watchlist in lists}
    for watchlist in rng.sample(lists, 40_000):
        rules.append(
            AlertRule(
                owner_id=watchlist.owner_id,
                scope="watchlist",
                watchlist=watchlist,
                **rng.choice(other_kinds),
            )
        )
    for item in rng.sample(items, 40_000):
        rules.append(
            AlertRule(
                owner_id=owner_of[item.watchlist_id],
                scope="item",
                item=item,
                **rng.choice(other_kinds),
            )
        )
    AlertRule.objects.bulk_create(rules, batch_size=5000)
    print(
        f"built {len(users):,} users, {len(offers):,} offers, {len(items):,} items, "
        f"{len(rules):,} rules in {time.perf_counter() - started:.1f} s"
    )
    return [offer.pk for offer in offers]


def record_changes(rng: random.Random, offer_ids: list[int]) -> None:
    from pricewatch.pricing import services as pricing
    from pricewatch.pricing.models import Availability, Offer

    chosen = rng.sample(offer_ids, CHANGES)
    prices = dict(Offer.objects.filter(pk__in=chosen).values_list("pk", "price"))
    observations = []
    for offer_id in chosen:
        old = prices[offer_id]
        roll = rng.random()
        availability = Availability.IN_STOCK
        if roll < 0.33:
            new = (old * Decimal("0.65")).quantize(Decimal("0.01"))
        elif roll < 0.9:
            new = (old * Decimal(rng.uniform(0.97, 1.03))).quantize(Decimal("0.01"))
        else:
            new, availability = old, Availability.OUT_OF_STOCK
        observations.append(
            (offer_id, pricing.Observation(new, "EUR", "bench", availability=availability))
        )
    started = time.perf_counter()
    recorded = pricing.record_prices(observations)
    print(
        f"recorded {len(recorded.change_ids):,} price changes in "
        f"{time.perf_counter() - started:.2f} s"
    )


def evaluate() -> None:
    from pricewatch.alerts import evaluation

    started, cpu = time.perf_counter(), time.process_time()
    result = evaluation.evaluate_pending(limit=CHANGES)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"evaluation: {result.changes:,} changes x 100,000 rules -> {result.matches:,} "
        f"(rule, offer) pairs judged, {result.fired:,} fired, {result.notifications:,} "
        f"notifications in {elapsed:.2f} s (this process's CPU: {cpu:.2f} s)"
    )


def deliver() -> None:
    from aiosmtpd.controller import Controller
    from django.conf import settings

    from pricewatch.alerts import delivery
    from pricewatch.alerts.models import Notification

    class Sink:
        count = 0

        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            Sink.count += 1
            return "250 OK"

    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    # Deliver the first MAILS alerts; hold the rest back.
    keep = list(Notification.objects.order_by("id").values_list("id", flat=True)[:MAILS])
    Notification.objects.exclude(id__in=keep).update(status=Notification.Status.MUTED)
    try:
        started = time.perf_counter()
        outcome = delivery.deliver_due(max_batches=MAILS // delivery.BATCH + 1)
        elapsed = time.perf_counter() - started
    finally:
        controller.stop()
    print(
        f"delivery: {outcome.sent:,} mails ({Sink.count:,} received, {outcome.failed} failed) "
        f"in {elapsed:.2f} s = {outcome.sent / elapsed:.0f} messages/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL URL (database recreated)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--reuse",
        metavar="DIR",
        help="keep the data in DIR (and the PostgreSQL database): built once, then only the "
        "evaluation and delivery run again",
    )
    args = parser.parse_args()
    prepare_environment(args.postgres, args.reuse)

    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    call_command("migrate", verbosity=0)
    print(
        f"database: {connection.vendor}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    rng = random.Random(args.seed)
    from pricewatch.alerts.models import EvaluatedChange, EvaluationCursor, Notification, RuleState
    from pricewatch.pricing.models import PriceChange

    if args.reuse and PriceChange.objects.exists():
        print("reusing the data built before: evaluating its changes again")
        for model in (Notification, RuleState, EvaluatedChange, EvaluationCursor):
            model.objects.all().delete()
    else:
        offer_ids = build(rng)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        record_changes(rng, offer_ids)
    evaluate()
    deliver()
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
