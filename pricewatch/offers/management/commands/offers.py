from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pricewatch.offers import services


class Command(BaseCommand):
    help = "Offers service: `offers register [--all]` queues registrations and runs them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["register"])
        parser.add_argument("--all", action="store_true", help="Re-register every product.")

    def handle(self, *args: Any, **options: Any) -> None:
        queued = services.requeue() if options["all"] else services.queue_missing_registrations()
        result = services.register_due()
        self.stdout.write(
            f"queued {queued}, registered {result['registered']}, failed {result['failed']}"
        )
