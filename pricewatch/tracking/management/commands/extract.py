from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pricewatch.tracking import extract_cli


class Command(BaseCommand):
    help = (
        "Extract price, currency and availability from saved product pages "
        "(PATH... or --jsonl on standard input, the protocol of extraction-dev/score.py)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("arguments", nargs="*", help="Pages (.html or .html.gz).")
        parser.add_argument("--jsonl", action="store_true", help="JSON lines in and out.")

    def handle(self, *args: Any, arguments: list[str], jsonl: bool, **options: Any) -> None:
        status = extract_cli.main([*arguments, *(["--jsonl"] if jsonl else [])])
        if status:
            sys.exit(status)
