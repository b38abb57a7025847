from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pricewatch.offers.sim import SimServer, SimState


class Command(BaseCommand):
    help = "Serve a local offers service (the public API) for development and tests."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8010)
        parser.add_argument("--refresh-token", default="dev-refresh-token")
        parser.add_argument("--token-seconds", type=float, default=300.0)
        parser.add_argument("--tick-seconds", type=float, default=60.0)
        parser.add_argument("--delay", type=float, default=0.0, help="Seconds before each answer.")

    def handle(self, *args: Any, **options: Any) -> None:
        state = SimState(
            refresh_token=options["refresh_token"],
            token_seconds=options["token_seconds"],
            tick_seconds=options["tick_seconds"],
            delay=options["delay"],
        )
        server = SimServer(state, options["host"], options["port"])
        self.stdout.write(f"offers sim on {server.base_url}")
        try:
            server.serve_forever()
        finally:
            server.server_close()
