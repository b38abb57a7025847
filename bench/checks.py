"""Benchmark the check pipeline end to end: fetch, extract, record, in one worker process.

    .venv/bin/python bench/checks.py [--pages 3000] [--latency-ms 200] [--batch 50]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pricewatch .venv/bin/python bench/checks.py

How it measures:
* The demo shop runs in its own process (`pricewatch demo-shop --latency-ms 200`), so its CPU
  is not counted; every answer is delayed by the latency.
* A fresh database: SQLite under var/bench-checks/, or, when DATABASE_URL is set, a scratch
  PostgreSQL database `<name>_bench_checks` on that server (created and dropped here).
* N pages are tracked (offers of kind page created through `pricing.services.create_offers`,
  plus their Page rows), then checked in batches of 50, as the dispatcher sends them, by
  calling the task function `tasks.check_pages` directly in this process, one batch after the
  other (what a worker with one slot does; `--slots N` runs N batches at once on threads, like
  `pricewatch worker --pool threads -c N`, still one process).
* The demo shop is one host, so the per-host politeness limits are raised for the benchmark
  through the settings it sets: FETCH_PER_HOST_CONCURRENCY=1000, FETCH_PER_HOST_MIN_DELAY=0
  (and FETCH_ALLOW_NETWORKS=127.0.0.1:<port>, FETCH_RENDER_FALLBACK=false).
* Reported: checks/s over the timed run (after one warm-up batch), and CPU seconds per check
  of this process (every thread: the fetch loop and the database work).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scratch_database(url: str) -> tuple[str, str]:
    """(scratch database URL, admin URL) on the server of `url`."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "pricewatch"
    scratch = urlunsplit(parts._replace(path=f"/{name}_bench_checks"))
    admin = urlunsplit(parts._replace(path="/postgres"))
    return scratch, admin


def postgres(admin_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(statement)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--slots", type=int, default=1, help="batches at once (threads)")
    parser.add_argument("--rounds", type=int, default=1, help="passes over all pages")
    args = parser.parse_args()

    var = ROOT / "var" / "bench-checks"
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    port = free_port()
    os.environ.pop("REDIS_URL", None)  # the embedded mode is enough to measure one process
    os.environ.update(
        DJANGO_SETTINGS_MODULE="pricewatch.settings",
        PRICEWATCH_VAR_DIR=str(var),
        PRICEWATCH_ENV_FILE="/nonexistent",
        FETCH_ALLOW_NETWORKS=f"127.0.0.1:{port}",
        FETCH_PER_HOST_CONCURRENCY="1000",
        FETCH_PER_HOST_MIN_DELAY="0",
        FETCH_RENDER_FALLBACK="false",
        LOG_LEVEL="WARNING",
    )
    admin_url = None
    if os.environ.get("DATABASE_URL"):
        scratch, admin_url = scratch_database(os.environ["DATABASE_URL"])
        name = urlsplit(scratch).path.lstrip("/")
        postgres(admin_url, f'DROP DATABASE IF EXISTS "{name}"')
        postgres(admin_url, f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = scratch

    # A third more products than pages: the script-priced ones (one in six) are left out,
    # rendering is not what this measures.
    products = args.pages * 6 // 5 + 6
    shop = subprocess.Popen(
        [
            *(sys.executable, "-m", "pricewatch", "demo-shop", "--port", str(port)),
            *("--latency-ms", str(args.latency_ms), "--products", str(products)),
        ],
        env={**os.environ, "PRICEWATCH_VAR_DIR": str(var / "shop")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        return run(args, port, products)
    finally:
        shop.terminate()
        shop.wait(10)
        if admin_url is not None:
            from django.db import connections

            connections.close_all()
            name = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/")
            postgres(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args: argparse.Namespace, port: int, products: int) -> int:
    import django

    django.setup()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.core.management import call_command
    from django.db import connection

    from pricewatch.pricing import services as pricing
    from pricewatch.pricing.models import Offer
    from pricewatch.tracking import demo_shop, tasks
    from pricewatch.tracking.models import Check, Page

    call_command("migrate", verbosity=0)
    catalog = demo_shop.Catalog(products=products)  # the same seed as the server's
    base = f"http://127.0.0.1:{port}"
    static = [p for p in catalog.all() if p.style != "javascript"][: args.pages]
    # Steady state: the first check has filled title and image already.
    offers = pricing.create_offers(
        [
            pricing.NewOffer(
                kind=Offer.Kind.PAGE,
                url=f"{base}/products/{p.slug}",
                shop="127.0.0.1",
                title=p.name,
                image_url=f"{base}/images/{p.slug}.svg",
            )
            for p in static
        ]
    )
    Page.objects.bulk_create(
        [Page(offer=offer, domain="127.0.0.1") for offer in offers], batch_size=1000
    )
    ids = [offer.pk for offer in offers]
    deadline = time.monotonic() + 30
    while True:  # wait for the shop
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                print("the demo shop did not start")
                return 1
            time.sleep(0.1)

    batches = [ids[i : i + args.batch] for i in range(0, len(ids), args.batch)]
    tasks.check_pages(batches[0], "first")  # warm-up: loop, connections, robots.txt
    timed = [batch for _ in range(args.rounds) for batch in batches]

    def one(batch: list[int]) -> None:
        try:
            tasks.check_pages(batch, "schedule")
        finally:
            connection.close()  # per-thread connection when --slots > 1

    cpu, wall = time.process_time(), time.perf_counter()
    if args.slots == 1:
        for batch in timed:
            tasks.check_pages(batch, "schedule")
    else:
        with ThreadPoolExecutor(args.slots) as pool:
            list(pool.map(one, timed))
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    checks = sum(len(batch) for batch in timed)
    statuses = dict(
        Check.objects.filter(trigger="schedule")
        .values_list("status")
        .annotate(n=django.db.models.Count("id"))
        .values_list("status", "n")
    )
    print(
        f"database: {connection.vendor}; pages: {len(ids)}; batches of {args.batch}; "
        f"slots: {args.slots}; demo-shop latency: {args.latency_ms:g} ms"
    )
    print(f"checks: {checks} in {wall:.2f} s -> {checks / wall:.1f} checks/s")
    print(f"CPU: {cpu:.2f} s -> {cpu / checks * 1000:.2f} ms per check")
    print(f"check statuses: {statuses}")
    return 0 if statuses.get("ok") == checks else 1


if __name__ == "__main__":
    sys.exit(main())
