"""Benchmark the price extractor on the shared dev pages: pages/s on one core, and price F1.

    .venv/bin/python bench/extraction.py [--pages DIR] [--repeat N]

Reads `../shared/extraction-dev/` (pages/*.html.gz + truth.json) next to the repository. Reports
throughput with decompression excluded (pages gunzipped up front) and included (gunzip inside
the timed loop), and scores prices the way that folder's score.py does.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pricewatch.tracking.extraction import extract  # noqa: E402

DEFAULT_DEV = ROOT.parent / "shared" / "extraction-dev"


def f1_score(truth: dict[str, dict], predicted: dict[str, Decimal | None]) -> tuple[float, ...]:
    """(precision, recall, F1) as score.py computes them."""
    tp = fp = fn = 0
    for key, item in truth.items():
        true = {Decimal(x) for x in item.get("price", [])}
        pred = predicted.get(key)
        if pred is None:
            fn += bool(true)
        elif pred in true:
            tp += 1
        else:
            fp += 1
            fn += bool(true)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    truth_file = args.dev / "truth.json"
    if not truth_file.exists():
        print(f"{args.dev} not found: nothing to benchmark")
        return 1
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    truth = json.loads(truth_file.read_text(encoding="utf8"))
    keys = sorted(truth)
    compressed = {k: (args.dev / "pages" / f"{k}.html.gz").read_bytes() for k in keys}
    pages = {k: gzip.decompress(v) for k, v in compressed.items()}
    size_mb = sum(len(v) for v in pages.values()) / 1e6

    predicted = {k: extract(pages[k], truth[k]["url"]).price for k in keys}  # also warms up
    runs = args.repeat

    def timed(payloads: dict[str, bytes], gunzip: bool) -> list[float]:
        """CPU seconds per round over all pages (CPU time: other load on the box is not ours)."""
        rounds = []
        for _ in range(runs):
            started = time.process_time()
            for k in keys:
                body = gzip.decompress(payloads[k]) if gunzip else payloads[k]
                extract(body, truth[k]["url"])
            rounds.append(time.process_time() - started)
        return rounds

    excluded_rounds = timed(pages, gunzip=False)
    included_rounds = timed(compressed, gunzip=True)
    precision, recall, f1 = f1_score(truth, predicted)
    print(f"pages {len(keys)} ({size_mb:.1f} MB uncompressed), {runs} rounds, one core, CPU time")
    for label, rounds in (("excluded", excluded_rounds), ("included", included_rounds)):
        best, mean = min(rounds), sum(rounds) / len(rounds)
        print(
            f"decompression {label}: {len(keys) / best:7.1f} pages/s best round "
            f"({best / len(keys) * 1000:.2f} ms/page), {len(keys) / mean:7.1f} pages/s mean"
        )
    print(f"price precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
