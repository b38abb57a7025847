from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from pricewatch.accounts import services as accounts


class Command(BaseCommand):
    help = "Serve the web application and API (ASGI, uvicorn)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1)."
        )
        parser.add_argument("--port", type=int, default=8000, help="Port (default 8000).")
        parser.add_argument("--workers", type=int, default=1, help="Web processes (default 1).")
        parser.add_argument(
            "--migrate", action="store_true", help="Apply database migrations before serving."
        )

    def handle(
        self, *args: Any, host: str, port: int, workers: int, migrate: bool, **options: Any
    ) -> None:
        # Imported here: uvicorn only for the web command.
        import uvicorn  # noqa: PLC0415

        if migrate:
            call_command("migrate", interactive=False, verbosity=0)
        accounts.ensure_admin_from_settings()
        uvicorn.run(
            "pricewatch.asgi:application",
            host=host,
            port=port,
            workers=workers,
            log_config=None,  # Django's LOGGING already configured the loggers
            access_log=False,  # RequestLogMiddleware writes one line per request
            proxy_headers=bool(getattr(settings, "SECURE_PROXY_SSL_HEADER", None)),
            lifespan="off",
            server_header=False,
        )
