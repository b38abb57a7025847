from __future__ import annotations

import json
import logging
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pricewatch.tracking import checks
from pricewatch.tracking.models import Check


class Command(BaseCommand):
    help = (
        "Fetch one product page and extract its price, as a check would, without saving "
        "anything. Exit code 1 when the page cannot be fetched or shows no price."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url", help="The product page's address (http or https).")
        parser.add_argument(
            "--render", action="store_true", help="Load the page in headless Chromium."
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="One JSON object on stdout."
        )

    def handle(self, *args: Any, url: str, render: bool, as_json: bool, **options: Any) -> None:
        # One request line per fetch is worker-log detail; here it would bury the answer.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        outcome = checks.check_url(url.strip(), render=render)
        record = {
            "url": url,
            "final_url": outcome.final_url or None,
            "status": outcome.status,
            "price": str(outcome.price) if outcome.price is not None else None,
            "regular_price": (
                str(outcome.regular_price) if outcome.regular_price is not None else None
            ),
            "currency": outcome.currency or None,
            "availability": outcome.availability,
            "title": outcome.title or None,
            "image": outcome.image or None,
            "method": outcome.method or None,
            "confidence": outcome.confidence,
            "http_status": outcome.http_status,
            "bytes": outcome.bytes,
            "attempts": outcome.attempts,
            "duration_ms": outcome.duration_ms,
            "rendered": outcome.rendered,
            "error_code": outcome.error_code or None,
            "error": outcome.error or None,
        }
        failed = outcome.status != Check.Status.OK
        if as_json:
            self.stdout.write(json.dumps(record, ensure_ascii=False))
        else:
            self.stdout.write(_describe(record))
        if failed:
            if not as_json:
                self.stderr.write(f"error: {outcome.error}")
            sys.exit(1)


def _describe(record: dict[str, Any]) -> str:
    price = "no price"
    if record["price"] is not None:
        price = f"{record['price']} {record['currency'] or ''}".strip()
        if record["regular_price"]:
            price += f" (was {record['regular_price']})"
    confidence = record["confidence"]
    method = record["method"] or "-"
    if confidence is not None:
        method += f" (confidence {confidence:.2f})"
    http = str(record["http_status"] or "-")
    if record["rendered"]:
        http += ", rendered in Chromium"
    lines = [
        record["final_url"] or record["url"],
        f"  status:       {record['status']}",
        f"  price:        {price}",
        f"  availability: {record['availability']}",
        f"  title:        {record['title'] or '-'}",
        f"  method:       {method}",
        f"  HTTP status:  {http}",
        f"  bytes:        {record['bytes']} in {record['attempts']} request(s)",
        f"  time:         {record['duration_ms']} ms",
    ]
    if record["image"]:
        lines.append(f"  image:        {record['image']}")
    return "\n".join(lines)
