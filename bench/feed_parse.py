"""Benchmark the Google Merchant feed parser: throughput and memory.

    .venv/bin/python bench/feed_parse.py                  # 100,000 items
    .venv/bin/python bench/feed_parse.py --items 1000000  # memory must stay flat

    .venv/bin/python bench/feed_parse.py --minimal        # only Google's required attributes

Writes a synthetic RSS feed to a temp file: typical items (about 1.3 KB each, 24 attributes
incl. shipping, sale price, GTIN and two extra images) or with ``--minimal`` 7 attributes
(~480 bytes).  Streams it through ``parse_feed`` and prints items/s, the current RSS at
every 10% of the items and ``ru_maxrss``.  The file is generated in a child process so that
the parent's peak RSS measures the parser alone.  The raw lxml figure (tree building with
the same parser options, no conversion) is printed as the ceiling for this machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lxml import etree

from pricewatch.catalog import feeds
from pricewatch.catalog.feeds import FeedItem, count_items, parse_feed

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0">\n'
    "<channel>\n<title>Bench shop</title>\n<link>https://shop.example.com</link>\n"
    "<description>Synthetic feed</description>\n"
)
FOOTER = "</channel>\n</rss>\n"
ITEM = """<item>
  <g:id>SKU-{n}</g:id>
  <g:title>Stainless steel water bottle 750 ml, model {n}</g:title>
  <g:description><![CDATA[Double-walled, keeps drinks cold for 24 hours & hot for 12.
  Leak-proof lid, BPA free. Dishwasher safe. Variant {n} of our best-selling bottle.]]>
  </g:description>
  <g:link>https://shop.example.com/products/bottle-{n}?utm_source=google</g:link>
  <g:image_link>https://cdn.example.com/images/bottle-{n}.jpg</g:image_link>
  <g:additional_image_link>https://cdn.example.com/images/bottle-{n}-2.jpg</g:additional_image_link>
  <g:additional_image_link>https://cdn.example.com/images/bottle-{n}-3.jpg</g:additional_image_link>
  <g:availability>in stock</g:availability>
  <g:price>{price}.99 AED</g:price>
  <g:sale_price>{sale}.50 AED</g:sale_price>
  <g:brand>Hydra</g:brand>
  <g:gtin>4006381333931</g:gtin>
  <g:mpn>HB-{n}</g:mpn>
  <g:condition>new</g:condition>
  <g:color>Blue</g:color>
  <g:size>750 ml</g:size>
  <g:item_group_id>HB</g:item_group_id>
  <g:google_product_category>2272</g:google_product_category>
  <g:product_type>Home &amp; Garden &gt; Kitchen &gt; Bottles</g:product_type>
  <g:shipping>
    <g:country>AE</g:country>
    <g:service>Standard</g:service>
    <g:price>15.00 AED</g:price>
  </g:shipping>
  <g:custom_label_0>summer</g:custom_label_0>
</item>
"""
# Only what Google requires: the floor for per-item cost (about 480 bytes).
MINIMAL_ITEM = """<item>
  <g:id>SKU-{n}</g:id>
  <g:title>Stainless steel water bottle 750 ml, model {n}</g:title>
  <g:description>Double-walled, keeps drinks cold for 24 hours.</g:description>
  <g:link>https://shop.example.com/products/bottle-{n}</g:link>
  <g:image_link>https://cdn.example.com/images/bottle-{n}.jpg</g:image_link>
  <g:availability>in_stock</g:availability>
  <g:price>{price}.99 AED</g:price>
</item>
"""


def write_feed(path: str, items: int, template: str = ITEM) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER)
        batch: list[str] = []
        for n in range(items):
            price = 50 + n % 200
            batch.append(template.format(n=n, price=price, sale=price - 10))
            if len(batch) == 1000:
                out.write("".join(batch))
                batch.clear()
        out.write("".join(batch))
        out.write(FOOTER)


def raw_lxml(path: str) -> float:
    """Seconds lxml alone needs to build (and drop) every item tree: the parser's ceiling."""
    parser = etree.XMLPullParser(events=("end",), tag="item", **feeds._SAFE_PARSER_OPTIONS)
    start = time.perf_counter()
    with open(path, "rb") as feed:
        while chunk := feed.read(128 * 1024):
            parser.feed(chunk)
            for _event, item in parser.read_events():
                item.clear()
                while item.getprevious() is not None:
                    del item.getparent()[0]
    parser.close()
    return time.perf_counter() - start


def rss_mib() -> float:
    # Current resident set (not the peak), from /proc: shows whether memory is flat.
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument(
        "--minimal",
        action="store_true",
        help="items with only the 7 attributes Google requires instead of ~24",
    )
    args = parser.parse_args()
    template = MINIMAL_ITEM if args.minimal else ITEM

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "feed.xml")
        child = multiprocessing.get_context("fork").Process(
            target=write_feed, args=(path, args.items, template)
        )
        child.start()
        child.join()
        size = os.path.getsize(path)
        print(f"feed: {args.items:,} items, {size / 2**20:,.1f} MiB")

        start = time.perf_counter()
        estimate = count_items(path)
        print(f"count_items: {estimate:,} in {time.perf_counter() - start:.2f} s")

        rss_start = rss_mib()
        step = max(args.items // 10, 1)
        ok = rejected = 0
        samples: list[str] = []
        start = time.perf_counter()
        for item in parse_feed(path):
            if isinstance(item, FeedItem):
                ok += 1
            else:
                rejected += 1
            if (ok + rejected) % step == 0:
                samples.append(f"{rss_mib():.0f}")
        elapsed = time.perf_counter() - start
        raw_elapsed = raw_lxml(path)

    total = ok + rejected
    maxrss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"parsed: {ok:,} valid, {rejected:,} rejected in {elapsed:.2f} s")
    print(f"throughput: {total / elapsed:,.0f} items/s ({size / 2**20 / elapsed:.1f} MiB/s)")
    print(f"raw lxml ceiling (tree building only): {total / raw_elapsed:,.0f} items/s")
    print(f"RSS MiB before parse {rss_start:.0f}, at each 10%: {' '.join(samples)}")
    print(f"peak RSS (ru_maxrss): {maxrss_mib:.1f} MiB")
    if total != args.items or rejected:
        sys.exit("unexpected item count or rejections")


if __name__ == "__main__":
    main()
