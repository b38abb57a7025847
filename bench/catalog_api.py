"""Benchmark the catalog API under HTTP load: list, facets, detail and search.

    .venv/bin/python bench/catalog_api.py                       # SQLite, + PostgreSQL if
                                                                # DATABASE_URL is set
    .venv/bin/python bench/catalog_api.py --products 20000 --duration 5 --concurrency 1 4

For each database: a fresh database is migrated and seeded with N products (each with its
priced offer, through `pricing.services.create_offers` and `Product.objects.bulk_create`); the
real server is started (`python -m pricewatch web`, uvicorn, one process, anonymous throttle
raised through API_THROTTLE_ANON); a closed-loop load generator (asyncio + httpx, C concurrent
connections, each sending its next request when the last one answered) drives every scenario
for D seconds and prints p50 / p99 latency and requests per second. URLs are drawn at random
from a few thousand realistic variants (brands, categories, pages, search words), so caches do
not see one URL over and over. Facets are measured twice: as served (counted in the facet
index, `pricewatch.catalog.facet_index`) and with the index and cache switched off
(`CATALOG_FACET_CACHE_SECONDS=0`: the database alone). Each scenario is warmed up with 20
requests first (connections, the index's first build).

Targets on PostgreSQL (issue 3): list p99 <= 25 ms, facets p99 <= 50 ms, detail p99 <= 10 ms,
search p99 <= 50 ms.

The PostgreSQL database is `<DATABASE_URL's name>_bench`, dropped and created on every run.
The cache is local memory (no REDIS_URL) in both cases: what is measured is the database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BRANDS = [f"Brand{n:03d}" for n in range(300)]
# Zipf-like: the first brand has about 16 % of the products, the 300th about 0.05 %.
BRAND_WEIGHTS = [1 / (rank + 1) for rank in range(len(BRANDS))]
CATEGORIES = [
    f"{top} > {mid}"
    for top in ("Home", "Sports", "Garden", "Kitchen", "Outdoor", "Office")
    for mid in ("Bottles", "Bags", "Lamps", "Tools", "Chairs", "Cups", "Boxes", "Mats", "Racks")
] + [f"Apparel > {kind}" for kind in ("Shirts", "Shoes", "Jackets", "Hats", "Socks", "Pants")]
GENDERS = ["male", "female", "unisex", ""]
CONDITIONS = ["new"] * 18 + ["used", "refurbished"]
AVAILABILITIES = ["in_stock"] * 14 + ["out_of_stock"] * 3 + ["preorder"] * 2 + ["backorder"]
COLORS = (  # noqa: SIM905 - word lists read better as text
    "black white red blue green yellow grey silver gold pink purple orange brown navy"
).split()
SIZES = ["XS", "S", "M", "L", "XL", "XXL", "500 ml", "750 ml", "1 l", "one size"] + [
    str(n) for n in range(36, 47)
]
ADJECTIVES = (  # noqa: SIM905 - word lists read better as text
    "stainless insulated compact foldable lightweight rugged classic modern vintage "
    "premium ergonomic waterproof portable deluxe organic recycled handmade "
    "adjustable wireless smart"
).split()
MATERIALS = (  # noqa: SIM905 - word lists read better as text
    "steel bamboo cotton leather glass ceramic wool linen oak aluminium nylon"
).split()
NOUNS = (  # noqa: SIM905 - word lists read better as text
    "bottle mug backpack lamp chair jacket shirt sneaker hat sock tent mat rack box "
    "cup kettle blanket pillow towel umbrella"
).split()
FILLER = (  # noqa: SIM905 - word lists read better as text
    "designed for everyday use with a durable finish and a lifetime warranty easy to "
    "clean and built to last made from sustainably sourced materials perfect gift for "
    "friends"
).split()


def seed(products: int) -> None:
    """Create `products` products with their offers (runs inside a configured Django)."""
    import django

    django.setup()
    from decimal import Decimal

    from pricewatch.catalog import prices
    from pricewatch.catalog.models import Product
    from pricewatch.pricing import services as pricing
    from pricewatch.pricing.models import Offer

    rng = random.Random(42)
    started = time.perf_counter()
    chunk = 5000
    for start in range(0, products, chunk):
        rows = []
        specs = []
        for n in range(start, min(products, start + chunk)):
            price = Decimal(rng.randint(100, 200000)) / 100
            sale = (
                (price * Decimal("0.8")).quantize(Decimal("0.01")) if rng.random() < 0.3 else None
            )
            availability = rng.choice(AVAILABILITIES)
            title = (
                f"{rng.choice(ADJECTIVES).title()} {rng.choice(MATERIALS)} {rng.choice(NOUNS)} {n}"
            )
            fields = {
                "sku": f"SKU-{n:07d}",
                "gtin": "",
                "title": title,
                "description": f"{title}: " + " ".join(rng.choices(FILLER, k=30)),
                "brand": rng.choices(BRANDS, weights=BRAND_WEIGHTS)[0],
                "category": rng.choice(CATEGORIES),
                "gender": rng.choice(GENDERS),
                "condition": rng.choice(CONDITIONS),
                "color": rng.choice(COLORS),
                "size": rng.choice(SIZES),
                "link": f"https://shop.example.com/p/{n}",
                "image_link": f"https://cdn.example.com/i/{n}.jpg",
                "active": n % 20 != 0,  # ids n + 1: the detail scenario skips these
            }
            specs.append(
                pricing.NewOffer(
                    kind=Offer.Kind.CATALOG,
                    title=title,
                    image_url=fields["image_link"],
                    observation=prices.observation_for(
                        price=price,
                        sale_price=sale,
                        currency="EUR",
                        availability=availability,
                        method="bench",
                    ),
                )
            )
            rows.append(fields)
        offers = pricing.create_offers(specs)
        Product.objects.bulk_create(
            [Product(offer=offer, **fields) for offer, fields in zip(offers, rows, strict=True)],
            batch_size=2000,
        )
    elapsed = time.perf_counter() - started
    print(f"  seeded {products:,} products in {elapsed:.1f} s", flush=True)


# --- databases --------------------------------------------------------------------------------


def postgres_bench_url(base: str) -> str:
    parts = urlsplit(base)
    name = parts.path.lstrip("/") or "pricewatch"
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}_bench", parts.query, ""))


def recreate_postgres(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


def environment(database_url: str, var_dir: Path, *, facet_cache: bool) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    settings_dir = var_dir / "settings"
    settings_dir.mkdir(exist_ok=True)
    seconds = "" if facet_cache else "CATALOG_FACET_CACHE_SECONDS = 0\n"
    (settings_dir / "bench_settings.py").write_text(
        f"from pricewatch.settings import *  # noqa: F403\n{seconds}"
    )
    env.update(
        DATABASE_URL=database_url,
        PRICEWATCH_VAR_DIR=str(var_dir),
        PRICEWATCH_ENV_FILE="/nonexistent",
        DJANGO_SETTINGS_MODULE="bench_settings",
        PYTHONPATH=os.pathsep.join([str(settings_dir), str(ROOT), env.get("PYTHONPATH", "")]),
        API_THROTTLE_ANON="100000000/m",
        API_THROTTLE_USER="100000000/m",
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    )
    return env


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pricewatch", "web", "--port", str(self.port)],
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the server exited; see its log")
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


# --- load -------------------------------------------------------------------------------------


def scenarios(rng: random.Random, products: int) -> dict[str, Callable[[], str]]:
    def listing() -> str:
        params: list[tuple[str, str]] = []
        pick = rng.random()
        if pick < 0.4:
            params.append(("brand", rng.choice(BRANDS[:60])))
        elif pick < 0.7:
            params.append(("category", rng.choice(CATEGORIES)))
            params.append(("price_min", str(rng.choice([0, 10, 50, 100]))))
            params.append(("price_max", str(rng.choice([200, 500, 1000]))))
        else:
            params.append(("color", rng.choice(COLORS)))
            params.append(("size", rng.choice(SIZES)))
        params.append(("availability", "in_stock"))
        params.append(("ordering", rng.choice(["-price", "price", "title", "-created", "brand"])))
        params.append(("page_size", "50"))
        params.append(("page", str(rng.choice([1, 1, 1, 2, 3]))))
        return "/api/v1/products?" + urlencode(params)

    def facets() -> str:
        params: list[tuple[str, str]] = []
        if rng.random() < 0.5:
            params.append(("category", rng.choice(CATEGORIES)))
        if rng.random() < 0.5:
            params.append(("brand", rng.choice(BRANDS[:60])))
        if rng.random() < 0.3:
            params.append(("color", rng.choice(COLORS)))
        if rng.random() < 0.3:
            params.append(("availability", "in_stock"))
        if rng.random() < 0.2:
            params.append(("q", rng.choice(NOUNS)))
        return "/api/v1/products/facets?" + urlencode(params)

    def detail() -> str:
        product_id = rng.randint(1, products)
        if (product_id - 1) % 20 == 0:  # inactive (see seed): hidden from the public
            product_id += 1
        return f"/api/v1/products/{min(product_id, products)}"

    def search() -> str:
        words = [rng.choice(NOUNS)]
        if rng.random() < 0.5:
            words.insert(0, rng.choice(ADJECTIVES + MATERIALS))
        if rng.random() < 0.3:
            words = [word[: max(3, len(word) - 2)] for word in words]  # typed as a prefix
        return "/api/v1/products?" + urlencode({"q": " ".join(words)})

    return {"list": listing, "facets": facets, "detail": detail, "search": search}


async def drive(
    base: str, make_url: Callable[[], str], *, concurrency: int, duration: float
) -> tuple[list[float], int, float]:
    import httpx

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        # Warm-up: connections, the server's first queries.
        for _ in range(20):
            await client.get(make_url())
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                url = make_url()
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


WRK = shutil.which("wrk")
WRK_SCRIPT = Path(__file__).with_name("wrk_paths.lua")


def drive_wrk(
    base: str, make_url: Callable[[], str], *, concurrency: int, duration: float
) -> tuple[float, float, float, int, int]:
    """Load from wrk (C, one thread) instead of Python, so the generator does not eat the CPU
    the server needs on a small machine: (p50 s, p99 s, req/s, requests, errors)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(make_url() for _ in range(5000)) + "\n")
    try:
        command = [
            str(WRK), "-t1", f"-c{concurrency}", f"-d{max(1, int(duration))}s", "--latency",
            "-s", str(WRK_SCRIPT), base, "--", listing.name,
        ]  # fmt: skip
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(listing.name)

    def seconds(label: str) -> float:
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        assert match, output
        value, unit = float(match.group(1)), match.group(2)
        return value / {"us": 1e6, "ms": 1e3, "s": 1.0}[unit]

    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return seconds("50%"), seconds("99%"), rate, requests, int(bad.group(1)) if bad else 0


def measure(
    label: str, name: str, base: str, make_url: Callable[[], str], *, concurrency: int,
    duration: float,
) -> None:  # fmt: skip
    if WRK:
        # The same warm-up as the httpx driver: connections, the server's first queries and
        # the facet index's first build (a server that has served a request before).
        import httpx

        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(20):
                client.get(make_url())
        p50, p99, rate, count, errors = drive_wrk(
            base, make_url, concurrency=concurrency, duration=duration
        )
        tool = "wrk"
    else:
        latencies, errors, elapsed = asyncio.run(
            drive(base, make_url, concurrency=concurrency, duration=duration)
        )
        p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
        rate, count, tool = len(latencies) / elapsed, len(latencies), "httpx"
    print(
        f"  {label:<8} {name:<17} c={concurrency:<3} p50 {p50 * 1000:6.1f} ms  "
        f"p99 {p99 * 1000:6.1f} ms  {rate:7.0f} req/s  ({count} requests, {errors} not 200, "
        f"{tool})",
        flush=True,
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_load(
    label: str, base: str, products: int, *, concurrencies: list[int], duration: float
) -> None:
    rng = random.Random(7)
    for name, make_url in scenarios(rng, products).items():
        for concurrency in concurrencies:
            measure(label, name, base, make_url, concurrency=concurrency, duration=duration)


def bench_database(label: str, database_url: str, args: argparse.Namespace) -> None:
    var_dir = Path(tempfile.mkdtemp(prefix=f"pricewatch-bench-{label}-"))
    try:
        print(f"== {label}: {args.products:,} products", flush=True)
        env = environment(database_url, var_dir, facet_cache=True)
        subprocess.run(
            [sys.executable, "-m", "pricewatch", "migrate", "--verbosity", "0"],
            env=env,
            cwd=ROOT,
            check=True,
        )
        subprocess.run(
            [sys.executable, __file__, "--seed-only", "--products", str(args.products)],
            env=env,
            cwd=ROOT,
            check=True,
        )
        if label == "postgres":
            import psycopg

            with psycopg.connect(database_url.replace("postgres://", "postgresql://", 1)) as db:
                db.autocommit = True
                db.execute("VACUUM ANALYZE")
                if not args.pg_default_costs:
                    # The usual setting for a database on SSD or in memory (the default 4 is
                    # for spinning disks): index lookups through the offer join then win
                    # over hash joins where they should. README: "Running at scale".
                    name = urlsplit(database_url).path.lstrip("/")
                    db.execute(f'ALTER DATABASE "{name}" SET random_page_cost = 1.1')
                    print("  random_page_cost = 1.1 (--pg-default-costs to keep 4)", flush=True)
        for facet_cache in (True, False):
            env = environment(database_url, var_dir, facet_cache=facet_cache)
            server = Server(env, var_dir / "server.log")
            try:
                server.wait_ready()
                if facet_cache:
                    run_load(
                        label,
                        server.base,
                        args.products,
                        concurrencies=args.concurrency,
                        duration=args.duration,
                    )
                else:
                    rng = random.Random(7)
                    make_url = scenarios(rng, args.products)["facets"]
                    for concurrency in args.concurrency:
                        measure(
                            label,
                            "facets (no cache)",
                            server.base,
                            make_url,
                            concurrency=concurrency,
                            duration=args.duration,
                        )
            finally:
                server.stop()
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--database", choices=["all", "sqlite", "postgres"], default="all")
    parser.add_argument(
        "--pg-default-costs",
        action="store_true",
        help="keep PostgreSQL's random_page_cost = 4 instead of the SSD setting 1.1",
    )
    parser.add_argument("--seed-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_only:
        seed(args.products)
        return
    if args.database in {"all", "sqlite"}:
        folder = Path(tempfile.mkdtemp(prefix="pricewatch-bench-db-"))
        try:
            bench_database("sqlite", f"sqlite:///{folder / 'bench.sqlite3'}", args)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    postgres = os.environ.get("DATABASE_URL", "")
    if args.database in {"all", "postgres"}:
        if not postgres.startswith("postgres"):
            print("== postgres: skipped (set DATABASE_URL=postgres://...)")
            return
        url = postgres_bench_url(postgres)
        recreate_postgres(url)
        bench_database("postgres", url, args)


if __name__ == "__main__":
    main()
