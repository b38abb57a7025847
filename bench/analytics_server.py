"""Benchmark the cost of visit recording on GET /api/v1/products/{id}, a real server under wrk.

    .venv/bin/python bench/analytics_server.py --postgres postgres://postgres@127.0.0.1:5432/pw_analytics_srv

Seeds products with bench/catalog_api.py, then serves them with `pricewatch web` twice, recording
off and on (every request counted: reload and flood rules set out of the way so each request
takes the full path: bot check, HMAC, cache, buffer append), and prints p50 / p99 of each under
a one-connection httpx client sending a browser's User-Agent (httpx's own is a bot's);
target: p99 difference <= 1 ms. Embedded buffer (spool files); views buffered include warm-up.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench import catalog_api

PRODUCTS = 2_000


BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def drive(base: str, make_url: Callable[[], str], duration: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    with httpx.Client(base_url=base, headers={"User-Agent": BROWSER}, timeout=30) as client:
        deadline = time.perf_counter() + duration
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = client.get(make_url())
            latencies.append(time.perf_counter() - started)
            errors += response.status_code != 200
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--duration", type=float, default=10.0)
    arguments = parser.parse_args()
    catalog_api.recreate_postgres(arguments.postgres)
    var_dir = Path(tempfile.mkdtemp(prefix="pricewatch-bench-analytics-server-"))
    env = catalog_api.environment(arguments.postgres, var_dir, facet_cache=True)
    run = {"env": env, "cwd": catalog_api.ROOT, "check": True}
    subprocess.run([sys.executable, "-m", "pricewatch", "migrate", "--verbosity", "0"], **run)
    seed = [sys.executable, catalog_api.__file__, "--seed-only", "--products", str(PRODUCTS)]
    subprocess.run(seed, **run)
    rng = random.Random(3)
    active = [n for n in range(1, PRODUCTS + 1) if (n - 1) % 20 != 0]

    def url() -> str:
        return f"/api/v1/products/{rng.choice(active)}"

    for enabled in ("false", "true"):
        env.update(
            ANALYTICS_ENABLED=enabled,
            ANALYTICS_RELOAD_SECONDS="0",
            ANALYTICS_MAX_VIEWS_PER_ADDRESS_PER_MINUTE="100000000",
        )
        server = catalog_api.Server(env, var_dir / f"server-{enabled}.log")
        try:
            server.wait_ready()
            drive(server.base, url, 2.0)  # warm-up
            latencies, errors = drive(server.base, url, arguments.duration)
            p50 = statistics.median(latencies)
            p99 = catalog_api.percentile(latencies, 0.99)
            rate, count = len(latencies) / arguments.duration, len(latencies)
            spooled = sum(
                1 for path in (var_dir / "analytics").glob("*.jsonl") for _ in path.open()
            )
            print(
                f"  recording {'on ' if enabled == 'true' else 'off'}: p50 {p50 * 1000:.2f} ms, "
                f"p99 {p99 * 1000:.2f} ms, {rate:.0f} req/s, {count} requests, {errors} errors, "
                f"{spooled} views buffered",
                flush=True,
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
