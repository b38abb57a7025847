"""`pricewatch extract`: run the price extractor on saved pages.

extract PAGE.html [PAGE.html.gz ...]     human-readable summary per page
extract --jsonl < pages.jsonl            {"path", "url"} lines in, one JSON result per line out
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import IO, Any

from pricewatch.tracking.extraction import Extraction, extract

_REMOTE_HINT = "fetching URLs is done by `pricewatch check`; pass a saved .html or .html.gz file"


def read_page(path: Path) -> bytes:
    """Read a saved page, gunzipping `.gz` files (and gzip data whatever the name says)."""
    data = path.read_bytes()
    if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def as_json(extraction: Extraction, path: str) -> dict[str, Any]:
    """The JSON-lines record for one page."""
    return {
        "path": path,
        "price": str(extraction.price) if extraction.price is not None else None,
        "currency": extraction.currency,
        "availability": extraction.availability,
        "regular_price": (
            str(extraction.regular_price) if extraction.regular_price is not None else None
        ),
        "title": extraction.title,
        "method": extraction.method,
        "confidence": extraction.confidence,
    }


def _describe(extraction: Extraction, name: str) -> str:
    price = "no price found"
    if extraction.price is not None:
        price = f"{extraction.price} {extraction.currency or '(currency unknown)'}"
        if extraction.regular_price is not None:
            price += f" (was {extraction.regular_price})"
    lines = [
        name,
        f"  price:        {price}",
        f"  availability: {extraction.availability or 'unknown'}",
        f"  title:        {extraction.title or '-'}",
        f"  method:       {extraction.method} (confidence {extraction.confidence:.2f})",
    ]
    if extraction.variant:
        lines.append(f"  variant:      selected by URL value {extraction.variant!r}")
    if extraction.image:
        lines.append(f"  image:        {extraction.image}")
    return "\n".join(lines)


def _run_jsonl(stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    failures = 0
    for line_no, line in enumerate(stdin, 1):
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
            path = str(request["path"])
            url = request.get("url")
        except (ValueError, KeyError, TypeError):
            stderr.write(f"line {line_no}: expected a JSON object with a 'path'\n")
            failures += 1
            continue
        try:
            data = read_page(Path(path))
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            stderr.write(f"{path}: cannot read: {exc}\n")
            record = as_json(extract(b"", url), path)
            record["error"] = str(exc)
            stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
            failures += 1
            continue
        record = as_json(extract(data, url if isinstance(url, str) else None), path)
        stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    stdout.flush()
    return 0 if failures == 0 else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(
        prog="pricewatch extract",
        description="Extract the price, currency and availability from saved product pages.",
    )
    parser.add_argument("pages", nargs="*", metavar="PATH_OR_URL", help=".html or .html.gz files")
    parser.add_argument(
        "--jsonl",
        action="store_true",
        help='read {"path": ..., "url": ...} lines from stdin, write one JSON result per line',
    )
    parser.add_argument("--url", help="the page's original address (helps currency and variants)")
    args = parser.parse_args(argv)
    if args.jsonl:
        return _run_jsonl(sys.stdin, sys.stdout, sys.stderr)
    if not args.pages:
        parser.print_usage(sys.stderr)
        sys.stderr.write("give at least one saved page, or --jsonl\n")
        return 2
    status = 0
    for item in args.pages:
        if item.startswith(("http://", "https://")):
            sys.stderr.write(f"{item}: {_REMOTE_HINT}\n")
            status = 2
            continue
        try:
            data = read_page(Path(item))
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            sys.stderr.write(f"{item}: cannot read: {exc}\n")
            status = 1
            continue
        sys.stdout.write(_describe(extract(data, args.url), item) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
