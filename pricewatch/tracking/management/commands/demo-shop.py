from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from pricewatch.core import money
from pricewatch.core.errors import DomainError
from pricewatch.tracking import demo_shop


class Command(BaseCommand):
    help = (
        "Serve the demo shop: product pages in several markup styles whose prices change on a "
        "timer or on request (for trying pricewatch offline, and for the benchmarks)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument(
            "--port",
            type=int,
            default=settings.DEMO_SHOP_PORT,
            help="Port (default %(default)s: the embedded allow-list lets in 127.0.0.1:8001).",
        )
        parser.add_argument(
            "--latency-ms", type=float, default=0.0, help="Delay every answer by this much."
        )
        parser.add_argument(
            "--drift-seconds",
            type=float,
            default=0.0,
            help="Every this many seconds about a third of the prices move (0: only on request).",
        )
        parser.add_argument("--products", type=int, default=12, help="How many products.")
        parser.add_argument("--seed", type=int, default=1, help="Seed of the catalog.")
        parser.add_argument(
            "--currency", default="EUR", help="ISO 4217 code of every price (default EUR)."
        )

    def handle(
        self,
        *args: Any,
        host: str,
        port: int,
        latency_ms: float,
        drift_seconds: float,
        products: int,
        seed: int,
        currency: str,
        **options: Any,
    ) -> None:
        if not 0 < port < 65536:
            raise CommandError("--port must be between 1 and 65535")
        if products < 1 or products > 100_000:
            raise CommandError("--products must be between 1 and 100000")
        if latency_ms < 0 or drift_seconds < 0:
            raise CommandError("--latency-ms and --drift-seconds must not be negative")
        try:
            currency = money.parse_currency(currency)
        except DomainError as exc:
            raise CommandError(f"--currency: {exc}") from exc
        catalog = demo_shop.Catalog(
            products=products, seed=seed, currency=currency, drift_seconds=drift_seconds
        )
        app = demo_shop.DemoShop(catalog, latency_ms=latency_ms)
        first = catalog.all()[0]
        self.stdout.write(
            f"Demo shop on http://{host}:{port}/ ({products} products"
            + (f", {latency_ms:g} ms latency" if latency_ms else "")
            + (f", prices drift every {drift_seconds:g} s" if drift_seconds else "")
            + f"). Track e.g. http://{host}:{port}/products/{first.slug}. Ctrl-C stops it."
        )
        self.stdout.flush()
        try:
            demo_shop.serve(app, host=host, port=port)
        except OSError as error:
            raise CommandError(f"cannot listen on {host}:{port}: {error}") from error
