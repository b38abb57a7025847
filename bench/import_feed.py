"""Benchmark the feed import end to end: parse, validate, upsert, price history, report.

    .venv/bin/python bench/import_feed.py                    # 100,000 items on SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pricewatch .venv/bin/python bench/import_feed.py
    .venv/bin/python bench/import_feed.py --items 1000000    # memory must stay flat

Generates a synthetic feed (the typical ~1.3 KB item of bench/feed_parse.py, or --minimal)
into a temp dir, migrates a throw-away database (a temp SQLite file, or a database named
``<name>_importbench`` next to the one DATABASE_URL names, dropped and re-created), then times:

1. the first import (every item created: offer, first price point, daily roll-up, product,
   report row);
2. the same file again (every item unchanged: the digest fast path);
3. a feed with every 10th price changed (updates and price history).

Prints items/s, RSS at every 10% of the staging phase, and the peak RSS (ru_maxrss) of
each run, measured in a fresh child process per run so one run's peak does not hide
another's (plus the largest staging worker's when the feed was staged in parallel;
IMPORT_WORKERS=1 measures the sequential path).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from feed_parse import ITEM, MINIMAL_ITEM, write_feed  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def setup_database(tmp: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricewatch.settings")
    os.environ["PRICEWATCH_VAR_DIR"] = tmp
    os.environ["PRICEWATCH_ENV_FILE"] = "/nonexistent"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ.pop("REDIS_URL", None)
    url = os.environ.get("DATABASE_URL")
    if url and url.startswith("postgres"):
        import psycopg

        parts = urlsplit(url)
        name = parts.path.lstrip("/") + "_importbench"
        admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = urlunsplit(
            (parts.scheme, parts.netloc, f"/{name}", parts.query, "")
        )
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"


def django_ready() -> None:
    import django

    django.setup()


def one_run(path: str, label: str, items: int, queue: Any) -> None:
    """Runs in a child process: one import, its figures sent back through `queue`."""
    django_ready()
    from django.db import connection

    from pricewatch.catalog import imports

    samples: list[str] = []
    step = max(items // 10, 1)
    next_sample = step
    staged = 0.0

    def progress(done: int, total: int | None) -> None:
        nonlocal next_sample, staged
        staged = time.perf_counter()  # the last call ends the staging phase
        while done >= next_sample:
            samples.append(f"{rss_mib():.0f}")
            next_sample += step

    start = time.perf_counter()
    job = imports.start_import(path=path)
    job = imports.run_import(job.pk, progress=progress)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Staging worker processes (parallel staging), the largest of them.
    workers_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    queue.put(
        {
            "label": label,
            "vendor": connection.vendor,
            "status": job.status,
            "error": job.error,
            "counts": dict(imports.summary(job)),
            "elapsed": elapsed,
            "staging": staged - start,
            "rate": items / elapsed,
            "samples": samples,
            "peak": peak,
            "workers_peak": workers_peak,
        }
    )


def run_in_child(path: str, label: str, items: int) -> dict[str, Any]:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=one_run, args=(path, label, items, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--minimal", action="store_true", help="7-attribute items (~480 B)")
    parser.add_argument(
        "--skip-changed", action="store_true", help="skip the third run (10%% changed prices)"
    )
    args = parser.parse_args()
    template = MINIMAL_ITEM if args.minimal else ITEM

    with tempfile.TemporaryDirectory() as tmp:
        setup_database(tmp)
        django_ready()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        connection.close()

        first = os.path.join(tmp, "feed.xml")
        child = multiprocessing.get_context("fork").Process(
            target=write_feed, args=(first, args.items, template)
        )
        child.start()
        child.join()
        size = os.path.getsize(first)
        print(f"feed: {args.items:,} items, {size / 2**20:,.1f} MiB, database: {connection.vendor}")

        runs = [(first, "first import (all created)"), (first, "re-import (all unchanged)")]
        if not args.skip_changed:
            changed = os.path.join(tmp, "changed.xml")
            with open(first, encoding="utf-8") as source, open(changed, "w") as out:
                # Every 10th item gets a new price (the feed's "{price}.99 AED" becomes ".49").
                count = 0
                for line in source:
                    if "<g:price>" in line and ".99 AED" in line:
                        if count % 10 == 0:
                            line = line.replace(".99 AED", ".49 AED")
                        count += 1
                    out.write(line)
            runs.append((changed, "10% of prices changed"))

        for path, label in runs:
            result = run_in_child(path, label, args.items)
            print(f"\n== {result['label']} ({result['vendor']})")
            if result["status"] != "succeeded":
                sys.exit(f"import {result['status']}: {result['error']}")
            print("counts: " + ", ".join(f"{k} {v:,}" for k, v in result["counts"].items()))
            print(f"time: {result['elapsed']:.2f} s  ->  {result['rate']:,.0f} items/s", end="")
            apply = result["elapsed"] - result["staging"]
            print(f"  (staging {result['staging']:.2f} s, applying {apply:.2f} s)")
            print(f"RSS MiB at each 10% of staging: {' '.join(result['samples'])}")
            print(f"peak RSS (ru_maxrss): {result['peak']:.1f} MiB", end="")
            if result["workers_peak"]:
                print(f", largest staging worker: {result['workers_peak']:.1f} MiB", end="")
            print()


if __name__ == "__main__":
    main()
