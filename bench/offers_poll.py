"""Benchmark offers polling: N registered products, the sim answering after 50 ms, one process.

    .venv/bin/python bench/offers_poll.py                    # SQLite (a throw-away var dir)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pw_offers REDIS_URL=redis://127.0.0.1:6379/11 \
        SECRET_KEY=bench .venv/bin/python bench/offers_poll.py   # PostgreSQL (database must exist)

Starts `pricewatch offers-sim --delay 0.05` as a subprocess, creates N products, registers them
(one tick's registration pass) and polls all of them twice (the first poll creates the offers,
the second records changed prices). Prints products/s and CPU ms per product of this process.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--delay", type=float, default=0.05)
    args = parser.parse_args()
    os.environ.setdefault("PRICEWATCH_VAR_DIR", tempfile.mkdtemp(prefix="pricewatch-bench-offers-"))
    port = free_port()
    os.environ["OFFERS_BASE_URL"] = f"http://127.0.0.1:{port}"
    os.environ["OFFERS_REFRESH_TOKEN"] = "bench"
    os.environ["DJANGO_SETTINGS_MODULE"] = "pricewatch.settings"
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pricewatch",
            "offers-sim",
            "--port",
            str(port),
            "--refresh-token",
            "bench",
            "--delay",
            str(args.delay),
            "--tick-seconds",
            "1",
        ],
        env=os.environ.copy(),
    )
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from pricewatch.catalog.models import Product
        from pricewatch.offers import services
        from pricewatch.offers.models import Registration, ServiceOffer
        from pricewatch.pricing import services as pricing

        call_command("migrate", verbosity=0)
        Registration.objects.all().delete()
        start_sku = Product.objects.count()
        ids = pricing.create_offer_ids(
            [pricing.NewOffer(kind="catalog") for _ in range(args.products)]
        )
        Product.objects.bulk_create(
            [
                Product(sku=f"bench-{start_sku + n}", title=f"Product {n}", offer_id=offer_id)
                for n, offer_id in enumerate(ids)
            ],
            batch_size=2000,
        )
        time.sleep(1)  # the sim's start-up
        print(
            f"{connection.vendor}: {args.products} products, sim delay {args.delay * 1000:.0f} ms"
        )
        for label, run in (
            ("register", lambda: (services.queue_missing_registrations(), services.register_due())),
            ("poll 1 (creates offers)", services.poll_due),
            ("poll 2 (records changes)", services.poll_due),
        ):
            if label.startswith("poll 2"):
                Registration.objects.update(next_poll_at=None)
                Registration.objects.update(next_poll_at=Registration.objects.first().created_at)
            started, cpu_started = time.perf_counter(), cpu()
            result = run()
            wall, used = time.perf_counter() - started, cpu() - cpu_started
            print(
                f"  {label:26} {wall:6.1f} s  {args.products / wall:7.0f} products/s  "
                f"{used / args.products * 1000:5.2f} ms CPU/product  {result}"
            )
        print(f"  service offers: {ServiceOffer.objects.count()}")
    finally:
        sim.terminate()
        sim.wait()


if __name__ == "__main__":
    main()
