"""The staging phase of a feed import, free of Django: parsed items -> spool rows on disk.

``imports.run_import`` stages a feed either here in its own process (``stage_results`` per
parse batch into a ``SpoolWriter``) or, for a large UTF-8 file, in several worker processes
at once (``plan``, ``run_workers``), each parsing one byte range of the file:

* The file is cut into parts at item start tags (``<item``/``<entry`` followed by whitespace
  or ``>``, any namespace prefix). Part 0 is the file from its first byte, closed with
  synthetic end tags of the container (``</channel></rss>`` or ``</feed>``); every later part
  is a synthetic document: the original bytes up to and including the container's start
  tag (so the XML declaration and namespace declarations carry over), the part's bytes,
  and the same closing tags (the last part has the real ones). A cut that is not a real
  item boundary (inside CDATA, a comment or a nested element) makes a part fail to parse,
  and a part that closes the container early fails the check in ``PartStream``: any
  failure at all makes the caller discard the attempt and stage the file sequentially, so
  errors and results are exactly those of the sequential path.
* Parts are read in the file's own 128 KiB chunk alignment (``PartStream``), so the
  parser's oversized-item rule sees the same chunks as on the whole file, and report lines
  are shifted back to the file's true line numbers.
* Each worker writes its own spool files (same deterministic sku bucketing); the apply
  phase reads every bucket part by part, so file order, and "the last duplicate wins",
  hold as if one process had staged the file.
* A worker looks up stored digests (the unchanged fast path) through its own read-only
  connection (sqlite3 on the file, WAL mode: it sees the last committed state; psycopg on
  PostgreSQL) when the caller passes one; without it every item is converted and the
  apply phase still finds the unchanged ones by digest: same result, just slower.
* With such a connection a worker first stages its part by raw spans (``RawStager``): an
  item whose bytes' digest a product stored is unchanged without being parsed; the other
  items are parsed in small documents that must give exactly one item per span. Anything
  unexpected (a comment between items, markup that could hide an end tag, a parser error)
  makes the worker stage the part through the parser alone instead.

Workers are ``subprocess`` children running ``WORKER_BOOTSTRAP`` (not multiprocessing's
fork, which would copy a threaded process and its DB connections, nor its spawn, which
re-imports the parent's ``__main__``; a subprocess is also fine from a daemonic Celery
prefork child). They import this module and ``feeds`` only, without ``pricewatch/__init__``
(Celery, Django). The protocol, one JSON or text line at a time: the worker reads its
part's spec on stdin, counts its items and newlines and writes ``counted N L``; the caller
answers with the number of spool buckets (from the file's total) and the part's line
offset; the worker then writes ``progress N`` after every parse batch and ``done N`` at
the end, or ``failed <json message>``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import selectors
import subprocess
import sys
import traceback
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter
from pathlib import Path
from typing import IO, Any, Final, cast

from pricewatch.catalog import feeds

# Product columns written from a feed item, in spool-row order (after kind, line, sku, digest).
FEED_COLUMNS: Final = (
    "gtin",
    "mpn",
    "title",
    "description",
    "brand",
    "category",
    "google_product_category",
    "gender",
    "condition",
    "age_group",
    "color",
    "size",
    "link",
    "image_link",
    "availability",
    "quantity",
    "price",
    "sale_price",
    "currency",
    "extra",
)
# Spool row: (kind, line, sku, digest, *FEED_COLUMNS, raw) for kind VALID, (kind, line, sku,
# digest, product id, raw) for kind UNCHANGED; `raw` is the item's raw digest ("" when it was
# not staged by raw spans). An item recognised by its raw digest alone has digest "" and the
# id of the product found with it; others have id None. Decimals travel as strings.
VALID: Final = "v"
UNCHANGED: Final = "u"
# pickle (protocol 5, framed) reads back ~20x faster than marshal.load from a file, which
# pulls every object through a separate read call.
_PICKLE_PROTOCOL: Final = 5


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------

# Typed FeedItem attributes without a Product column: kept in `extra` when set.
_EXTRA_FIELDS: Final = (
    "additional_image_links",
    "mobile_link",
    "sale_price_effective_date",
    "cost_of_goods_sold",
    "unit_pricing_measure",
    "availability_date",
    "identifier_exists",
    "adult",
    "is_bundle",
    "multipack",
    "size_type",
    "size_system",
    "material",
    "pattern",
    "item_group_id",
    "product_types",
    "excluded_destinations",
)

# One encoder for every item: json.dumps with non-default options builds a new one per call.
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_extra_values = attrgetter(*_EXTRA_FIELDS)
_EMPTY: Final = (None, "", ())
_SHIPPING_FIELDS: Final = ("country", "region", "postal_code", "service")


def extra_json(item: feeds.FeedItem) -> str:
    """The item's `extra` column: untyped attributes plus typed ones without a column."""
    extra: dict[str, Any] = dict(item.extra)
    for name, value in zip(_EXTRA_FIELDS, _extra_values(item), strict=True):
        if value in _EMPTY:
            continue
        extra[name] = str(value) if isinstance(value, Decimal) else value
    if any(item.custom_labels):
        extra["custom_labels"] = list(item.custom_labels)
    if item.shipping:
        groups = []
        for ship in item.shipping:
            group: dict[str, Any] = {}
            for key, value in zip(
                _SHIPPING_FIELDS,
                (ship.country, ship.region, ship.postal_code, ship.service),
                strict=True,
            ):
                if value:
                    group[key] = value
            if ship.price is not None:
                group["price"] = str(ship.price)
            if ship.currency:
                group["currency"] = ship.currency
            for key, value in ship.extra.items():
                if value not in ("", None):
                    group[key] = value
            groups.append(group)
        extra["shipping"] = groups
    return _encode_json(extra) if extra else "{}"


# FeedItem attributes in spool-row order (FEED_COLUMNS but for the computed ones).
_row_values = attrgetter("line", "sku", "digest", *FEED_COLUMNS[: FEED_COLUMNS.index("link")])
_row_tail = attrgetter("availability", "quantity")


def row(item: feeds.FeedItem, raw: str = "") -> tuple[Any, ...]:
    """The spool row of a valid item (`raw`: its raw digest, when known)."""
    sale = item.sale_price
    return (
        VALID,
        *_row_values(item),
        item.link or "",
        item.image_link or "",
        *_row_tail(item),
        str(item.price),
        None if sale is None else str(sale),
        item.currency,
        extra_json(item),
        raw,
    )


# --------------------------------------------------------------------------------------------
# Spool files
# --------------------------------------------------------------------------------------------


def spool_path(base: Path, part: int, name: int | str) -> Path:
    return base.with_name(f"{base.name}.{part}.{name}.spool")


@dataclass(slots=True)
class SpoolWriter:
    """One part's staged rows: valid/unchanged items by sku bucket, rejections in order."""

    base: Path
    buckets: int
    part: int = 0
    files: list[IO[bytes]] = field(default_factory=list)
    pending: list[list[tuple[Any, ...]]] = field(default_factory=list)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    rejected_file: IO[bytes] | None = None

    def open(self) -> None:
        self.files = [spool_path(self.base, self.part, n).open("wb") for n in range(self.buckets)]
        self.pending = [[] for _ in range(self.buckets)]
        self.rejected = []
        self.rejected_file = spool_path(self.base, self.part, "rejected").open("wb")

    def add(self, row: tuple[Any, ...]) -> None:
        # By a hash that is the same in every process (``hash(str)`` is randomised).
        self.pending[zlib.crc32(row[2].encode()) % self.buckets].append(row)

    def reject(self, line: int, sku: str, reason: str) -> None:
        self.rejected.append((line, sku, reason))

    def flush(self) -> None:
        dump = pickle.dump
        for out, rows in zip(self.files, self.pending, strict=True):
            if rows:
                dump(rows, out, _PICKLE_PROTOCOL)
                rows.clear()
        if self.rejected:
            assert self.rejected_file is not None
            dump(self.rejected, self.rejected_file, _PICKLE_PROTOCOL)
            self.rejected.clear()

    def close(self) -> None:
        for out in [*self.files, self.rejected_file]:
            if out is not None:
                out.close()


@dataclass(slots=True)
class Spool:
    """All parts' spool files of one job, read back bucket by bucket in file order."""

    base: Path
    buckets: int
    parts: int = 1

    def read(self, name: int | str) -> Iterator[list[Any]]:
        """The row lists of bucket `name` (or "rejected"): part 0's, then part 1's..."""
        load = pickle.load
        for part in range(self.parts):
            with spool_path(self.base, part, name).open("rb") as spool:
                while True:
                    try:
                        # Our own spool, written by this run a moment ago: trusted input.
                        yield load(spool)
                    except EOFError:
                        break

    def remove(self) -> None:
        for part in range(self.parts):
            for name in [*range(self.buckets), "rejected"]:
                spool_path(self.base, part, name).unlink(missing_ok=True)


def stage_results(
    batch: list[feeds.FeedItem | feeds.RejectedItem | feeds.UnchangedItem],
    writer: SpoolWriter,
    line_offset: int = 0,
) -> None:
    """Spool one parse batch (lines shifted by `line_offset`) and flush it."""
    make_row = row
    feed_item, unchanged_item = feeds.FeedItem, feeds.UnchangedItem
    for result in batch:
        if isinstance(result, feed_item):
            if line_offset:
                result.line += line_offset
            writer.add(make_row(result))
        elif isinstance(result, unchanged_item):
            line = result.line + line_offset
            writer.add((UNCHANGED, line, result.sku, result.digest, None, ""))
        else:
            writer.reject(result.line + line_offset, (result.sku or "")[:100], result.reason)
    writer.flush()


# --------------------------------------------------------------------------------------------
# Splitting a file into parts
# --------------------------------------------------------------------------------------------

CHUNK: Final = feeds._CHUNK
# The container start tag must be within this many bytes (a Merchant feed's prolog and
# channel head are tiny; anything else is staged sequentially).
_HEAD: Final = 2 * 1024 * 1024
_SPLIT_WINDOW: Final = 1024 * 1024
_START_TAG: Final = re.compile(
    rb"<([^\s/>!?]+)(?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*\s*(/?)>"
)
_END_TAG: Final = re.compile(rb"</([^\s/>]+)\s*>")
_DECLARED_ENCODING: Final = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?\sencoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']"
)
_ITEM_START: Final = {
    "rss": re.compile(rb"<(?:[A-Za-z_][\w.-]{0,30}:)?item[\s>]"),
    "atom": re.compile(rb"<(?:[A-Za-z_][\w.-]{0,30}:)?entry[\s>]"),
}


@dataclass(frozen=True, slots=True)
class Part:
    index: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Plan:
    """Where to cut a feed: the shared prefix, the closing tags and the parts' byte ranges."""

    path: str
    prefix_end: int  # bytes [0, prefix_end) end with the container's start tag
    closers: bytes  # e.g. b"</channel></rss>"
    container: bytes  # the container's qualified name (b"channel" or b"feed")
    splits: tuple[int, ...]  # start offsets of parts 1..n-1
    size: int

    def parts(self) -> list[Part]:
        bounds = [0, *self.splits, self.size]
        return [Part(i, bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]

    def line_offsets(self, newlines: list[int]) -> list[int]:
        """What to add to each part's line numbers, given the newlines in every part.

        A later part's document starts with the prefix, the file with part 0.
        """
        with open(self.path, "rb") as source:
            prefix_lines = source.read(self.prefix_end).count(b"\n")
        offsets = [0]
        for index in range(1, len(newlines)):
            offsets.append(sum(newlines[:index]) - prefix_lines)
        return offsets


def plan(path: str, parts: int) -> Plan | None:
    """Cut points for up to `parts` parts, or None when the file must be staged as one.

    Only UTF-8 documents (declared or by default) whose container start tag is found by a
    simple scan of the head (comments, PIs and CDATA skipped; a DOCTYPE or anything odd
    gives up) are split.
    """
    if parts < 2:
        return None
    size = os.path.getsize(path)
    with open(path, "rb") as source:
        head = source.read(_HEAD)
        if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00", b"<\x00")):
            return None  # UTF-16/32
        declared = _DECLARED_ENCODING.match(head)
        if declared is not None and declared[1].lower() not in (b"utf-8", b"utf8"):
            return None
        found = _find_container(head)
        if found is None:
            return None
        prefix_end, stack, kind = found
        item_start = _ITEM_START[kind]
        splits: list[int] = []
        for k in range(1, parts):
            at = max(size * k // parts, prefix_end, splits[-1] + 1 if splits else 0)
            cut = _next_item_start(source, at, item_start)
            if cut is None:
                break
            if splits and cut <= splits[-1]:
                continue
            splits.append(cut)
    if not splits:
        return None
    closers = b"".join(b"</" + name + b">" for name in reversed(stack))
    return Plan(path, prefix_end, closers, stack[-1], tuple(splits), size)


def _find_container(head: bytes) -> tuple[int, list[bytes], str] | None:
    """(end of the container start tag, open element names, "rss"/"atom") or None."""
    stack: list[bytes] = []
    i = head.find(b"<")
    while i >= 0:
        if head.startswith(b"<!--", i):
            end, skip = head.find(b"-->", i + 4), 3
        elif head.startswith(b"<?", i):
            end, skip = head.find(b"?>", i + 2), 2
        elif head.startswith(b"<![CDATA[", i):
            end, skip = head.find(b"]]>", i + 9), 3
        elif head.startswith(b"<!", i):
            return None  # DOCTYPE: the sequential path refuses it with its own message
        elif head.startswith(b"</", i):
            closing = _END_TAG.match(head, i)
            if closing is None or not stack or stack.pop() != closing[1]:
                return None
            end, skip = closing.end(), 0
        else:
            tag = _START_TAG.match(head, i)
            if tag is None:
                return None
            end, skip = tag.end(), 0
            if not tag[2]:
                stack.append(tag[1])
                local = tag[1].rpartition(b":")[2]
                if len(stack) == 1:
                    if local == b"feed":
                        return end, stack, "atom"
                    if local != b"rss":
                        return None
                elif len(stack) == 2:
                    if local == b"channel":
                        return end, stack, "rss"
                    return None  # something else than the channel in <rss>
            elif not stack:
                return None  # an empty root element: nothing to split
        if end < 0:
            return None
        i = head.find(b"<", end + skip)
    return None


def _next_item_start(source: IO[bytes], at: int, item_start: re.Pattern[bytes]) -> int | None:
    position = at
    while True:
        source.seek(position)
        window = source.read(_SPLIT_WINDOW + 64)
        if not window:
            return None
        match = item_start.search(window)
        if match is not None:
            return position + match.start()
        if len(window) <= _SPLIT_WINDOW:
            return None
        position += _SPLIT_WINDOW


def count_part(path: str, start: int, end: int) -> tuple[int, int]:
    """(items as ``feeds.count_items`` counts them, newlines) in bytes [start, end).

    A counted start tag begins with its only "<", so none spans two parts cut at an item's
    "<": the parts' counts add up to the whole file's.
    """
    count_re = feeds._ITEM_START_RE
    count = newlines = 0
    tail = b""
    with open(path, "rb") as source:
        source.seek(start)
        remaining = end - start
        while remaining > 0 and (chunk := source.read(min(1024 * 1024, remaining))):
            remaining -= len(chunk)
            newlines += chunk.count(b"\n")
            buffer = tail + chunk
            # A match ending inside ``tail`` was already counted with the previous chunk.
            count += sum(1 for m in count_re.finditer(buffer) if m.end() > len(tail))
            tail = buffer[-64:]
    return count, newlines


class PartMismatch(Exception):
    """A part closes the container before its end: not a clean split."""


class PartStream:
    """A part as a synthetic document, read in the whole file's chunk alignment."""

    def __init__(self, plan: Plan, part: Part, last: bool) -> None:
        self.source = open(plan.path, "rb")  # noqa: SIM115 - closed by close()
        self.source.seek(part.start)
        self.position = part.start
        self.end = part.end
        self.head = b"" if part.start == 0 else self._prefix(plan)
        self.tail = b"" if last else plan.closers
        self.closing = re.compile(rb"</" + re.escape(plan.container) + rb"[\s>]")
        self.allowed_closes = 1 if last else 0
        self.closes = 0
        self.carry = b""

    def _prefix(self, plan: Plan) -> bytes:
        self.source.seek(0)
        prefix = self.source.read(plan.prefix_end)
        self.source.seek(self.position)
        return prefix

    def read(self, _size: int = -1) -> bytes:
        if self.position >= self.end:
            tail, self.tail = self.tail, b""
            return tail
        boundary = min(self.end, (self.position // CHUNK + 1) * CHUNK)
        data = self.source.read(boundary - self.position)
        if len(data) != boundary - self.position:
            raise OSError("the feed file changed while it was being staged")
        self.position = boundary
        self._check(data)
        piece = self.head + data if self.head else data
        self.head = b""
        if self.position >= self.end and self.tail:
            piece += self.tail
            self.tail = b""
        return piece

    def _check(self, data: bytes) -> None:
        buffer = self.carry + data
        self.closes += sum(1 for m in self.closing.finditer(buffer) if m.end() > len(self.carry))
        if self.closes > self.allowed_closes:
            raise PartMismatch("the container closes inside a part")
        self.carry = buffer[-(len(self.closing.pattern) + 2) :]

    def close(self) -> None:
        self.source.close()


# --------------------------------------------------------------------------------------------
# Worker processes
# --------------------------------------------------------------------------------------------


class DigestLookup:
    """`known` for ``feeds.parse_feed_batches``: {sku: content_hash} over a plain connection."""

    def __init__(self, database: Mapping[str, Any]) -> None:
        self.vendor = database["vendor"]
        self.table = database["table"]
        self.sku = database["sku"]
        self.digest = database["digest"]
        self.raw = database["raw"]
        self.connection: Any
        if self.vendor == "sqlite":
            import sqlite3
            from urllib.parse import quote

            uri = f"file:{quote(database['name'])}?mode=ro"
            self.connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self.connection.execute("PRAGMA busy_timeout=10000")
        elif self.vendor == "postgresql":
            import psycopg

            self.connection = psycopg.connect(**database["params"], autocommit=True)
        else:
            raise ValueError(f"no digest lookup for {self.vendor}")

    def __call__(self, skus: list[str]) -> dict[str, str]:
        # Names come from the model (the caller's spec); every value is a bound parameter.
        select = f"SELECT {self.sku}, {self.digest} FROM {self.table} WHERE {self.sku}"  # noqa: S608
        return {sku: digest for sku, digest in self._rows(select, skus) if digest}

    def by_raw(self, digests: list[str]) -> dict[str, tuple[str, int]]:
        """{raw digest: (sku, id)} of the products stored with these raw digests."""
        raw = self.raw
        # Names come from the model (the caller's spec); every value is a bound parameter.
        select = f"SELECT {raw}, {self.sku}, id FROM {self.table} WHERE {raw} > '' AND {raw}"  # noqa: S608
        return {digest: (sku, product) for digest, sku, product in self._rows(select, digests)}

    def _rows(self, select: str, values: list[str]) -> list[tuple[Any, ...]]:
        """Rows of `select` (ending in the column to match) for these values."""
        if not values:
            return []
        if self.vendor == "sqlite":
            rows: list[tuple[Any, ...]] = []
            for start in range(0, len(values), 500):
                chunk = values[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                rows += self.connection.execute(f"{select} IN ({marks})", chunk).fetchall()
            return rows
        # Binary: a text array parameter costs the server four times as long to read.
        return list(self.connection.execute(f"{select} = ANY(%s)", [values], binary=True))

    def close(self) -> None:
        self.connection.close()


# --------------------------------------------------------------------------------------------
# Raw spans: re-importing unchanged items without parsing them
# --------------------------------------------------------------------------------------------

# Part of every raw digest: bump it (with feeds' "pwfeed" digest) when the conversion of an
# item changes, so that stored raw digests no longer vouch for what it would become.
RAW_PERSON: Final = b"pwraw1"
# An item span this large is staged through the parser (which alone decides what is
# oversized); below 7 parser chunks an item is never oversized, whatever the alignment.
_RAW_MAX_ITEM: Final = 768 * 1024
# A head (the channel's own elements before the first item) or tail beyond this: parser.
_RAW_MAX_EDGE: Final = 1024 * 1024
_RAW_WINDOW: Final = 4 * 1024 * 1024
_WHITESPACE_RUN: Final = re.compile(rb"[ \t\r\n]*")


def _after_whitespace(data: bytes, at: int) -> int:
    """The first position from `at` on that is not XML whitespace (or the end)."""
    return cast(re.Match[bytes], _WHITESPACE_RUN.match(data, at)).end()


_TAG_END: Final = frozenset(b" \t\r\n>")
# Item start and end tags by container: only unprefixed item tags are staged raw.
_RAW_ITEMS: Final = {b"channel": b"item", b"feed": b"entry"}


class RawUnsuitable(Exception):
    """This part cannot be staged by raw spans; the worker stages it through the parser."""


def raw_key(prefix: bytes) -> bytes:
    """The key of a file's raw digests: its bytes up to the container start tag (the XML
    declaration, and the namespace declarations every item's bytes are read under)."""
    return hashlib.blake2b(prefix, digest_size=32, person=b"pwrawkey").digest()


class _RawScanner:
    """The item spans of one part, found in its bytes without parsing them.

    A span runs from an item start tag to the first end tag of the same name after it; the
    spans of a part must follow each other with only whitespace between them, and the part
    must end with whitespace (the last part: with exactly the container's end tags), or the
    part is RawUnsuitable. A span is not checked here: either its digest is one the catalog
    stored for an item the parser read from these very bytes (then these bytes are that
    whole element: a span cut short at an end tag inside CDATA could not equal a complete
    element), or it goes to the parser (`RawStager`), which must find exactly one item
    starting where the span starts. Lines are those of the part's document (`PartStream`).
    """

    def __init__(self, plan: Plan, part: Part, last: bool) -> None:
        container = plan.container
        item = _RAW_ITEMS.get(container)
        expected_closers = b"</channel></rss>" if container == b"channel" else b"</feed>"
        if item is None or plan.closers != expected_closers:
            raise RawUnsuitable("prefixed container or item tags")
        self.open_tag, self.close_tag = b"<" + item, b"</" + item
        names = re.findall(rb"</([^>]+)>", plan.closers)
        self.closers = re.compile(
            b"".join(rb"</" + re.escape(name) + rb"[ \t\r\n]*>[ \t\r\n]*" for name in names)
        )
        self.last = last
        self.container_closers = plan.closers
        self.source = open(plan.path, "rb")  # noqa: SIM115 - closed by close()
        # The bytes up to the container start tag: the raw digests' key, and the head of a
        # later part's documents (part 0 has its own head, up to its first item).
        self.file_prefix = self.source.read(plan.prefix_end)
        self.prefix = self.file_prefix if part.start else b""
        self.source.seek(part.start)
        self.remaining = part.end - part.start
        self.prefix_end = plan.prefix_end
        self.buf = b""
        self.pos = 0
        self.line = 1 + self.prefix.count(b"\n")
        self.head = b""
        self.tail = b""

    def close(self) -> None:
        self.source.close()

    def _fill(self) -> bool:
        """Read more of the part, dropping what lies before `pos`; False at the part's end."""
        if self.remaining <= 0:
            return False
        data = self.source.read(min(_RAW_WINDOW, self.remaining))
        if not data:
            raise OSError("the feed file changed while it was being staged")
        self.remaining -= len(data)
        self.buf = self.buf[self.pos :] + data
        self.pos = 0
        return True

    def _starts_item(self, at: int) -> bool | None:
        """Whether an item start tag begins at `at` (None: the buffer ends too soon)."""
        tag = self.open_tag
        if len(self.buf) < at + len(tag) + 1:
            return None
        return self.buf.startswith(tag, at) and self.buf[at + len(tag)] in _TAG_END

    def _find_head(self) -> None:
        """Part 0: everything before the first item start tag outside comments, CDATA and
        processing instructions becomes the head, which the parser reads."""
        at = self.prefix_end
        while True:
            buf = self.buf
            lt = buf.find(b"<", at)
            # Judge a "<" only with enough bytes after it to tell what it opens.
            if lt >= 0 and (len(buf) - lt >= 16 or self.remaining <= 0):
                for opener, closer in ((b"<!--", b"-->"), (b"<![CDATA[", b"]]>"), (b"<?", b"?>")):
                    if buf.startswith(opener, lt):
                        end = buf.find(closer, lt + len(opener))
                        if end >= 0:
                            at = end + len(closer)
                            break
                        lt = -1  # its end is further on
                        break
                else:
                    if self._starts_item(lt):
                        self.head = buf[:lt]
                        self.line += self.head.count(b"\n")
                        self.pos = lt
                        return
                    at = lt + 1
                if lt >= 0:
                    continue
            elif lt < 0:
                at = max(len(buf) - 1, self.prefix_end)
            if len(buf) > _RAW_MAX_EDGE or not self._fill():
                raise RawUnsuitable("no item start tag in the head")

    def spans(self) -> Iterator[tuple[int, bytes]]:
        """(line, bytes) of every item span of the part; then `tail` holds what follows."""
        if not self.prefix:
            self._find_head()
        else:
            self._fill()
            if not self._starts_item(0):
                raise RawUnsuitable("the part does not start with an item")
        close_tag = self.close_tag
        while True:
            # self.pos: an item start tag
            search_from = self.pos + len(self.open_tag)
            while True:
                buf = self.buf
                end = buf.find(close_tag, search_from)
                if end >= 0:
                    k = _after_whitespace(buf, end + len(close_tag))
                    if k < len(buf):
                        if buf[k] != 0x3E:  # "</items>" or the like: leave it to the parser
                            raise RawUnsuitable("an end tag that only starts like the item's")
                        break
                if len(buf) - self.pos > _RAW_MAX_ITEM:
                    raise RawUnsuitable("a large item")
                if not self._fill():
                    raise RawUnsuitable("an item runs past the end of the part")
                search_from = len(self.open_tag)  # the span now starts the buffer
            span = buf[self.pos : k + 1]
            yield self.line, span
            self.line += span.count(b"\n")
            self.pos = k + 1
            while True:  # the gap: whitespace, then an item start tag or the end
                buf = self.buf
                at = _after_whitespace(buf, self.pos)
                self.line += buf.count(b"\n", self.pos, at)
                self.pos = at
                if at == len(buf):
                    if self._fill():
                        continue
                    return  # the part ends after whitespace
                starts = self._starts_item(at)
                if starts is None and self._fill():
                    continue
                if starts:
                    break
                self._take_tail()
                return

    def _take_tail(self) -> None:
        """What follows the last span: the last part's container end tags, nothing else."""
        if not self.last:
            raise RawUnsuitable("something other than items in the part")
        while self._fill():
            if len(self.buf) - self.pos > _RAW_MAX_EDGE:
                raise RawUnsuitable("a long tail")
        tail = self.buf[self.pos :]
        if self.closers.fullmatch(tail) is None:
            raise RawUnsuitable("something other than items before the end")
        self.tail = tail


_SECTIONS: Final = ((b"<![CDATA[", b"]]>"), (b"<!--", b"-->"), (b"<?", b"?>"))


def _lexically_closed(span: bytes, open_tag: bytes) -> bool:
    """No item start tag inside, and every comment, CDATA section and processing
    instruction of the span ends before its end tag: the end tag is markup, not text.

    Linear in the span whatever it holds: every search moves forward only (a span of
    thousands of empty CDATA sections costs no more than one long one).
    """
    body_end = span.rfind(b"</")
    size = len(open_tag)
    find = span.find
    nested = find(open_tag, size, body_end)
    while nested >= 0:
        if span[nested + size] in _TAG_END:
            return False  # (also one in CDATA text: the parser alone will read this part)
        nested = find(open_tag, nested + 1, body_end)
    at = size
    upcoming = [find(opener, at, body_end) for opener, _ in _SECTIONS]
    while True:
        for index, (opener, _) in enumerate(_SECTIONS):
            if 0 <= upcoming[index] < at:
                upcoming[index] = find(opener, at, body_end)
        opened = [(position, index) for index, position in enumerate(upcoming) if position >= 0]
        if not opened:
            return True
        position, index = min(opened)
        opener, closer = _SECTIONS[index]
        end = find(closer, position + len(opener), body_end)
        if end < 0:
            return False
        at = end + len(closer)


# A document for the parser stays below this many lines: libxml2 keeps an element's line in
# 16 bits, and past line 65,535 reports the line of a neighbouring text node instead.
_RAW_DOCUMENT_LINES: Final = 60_000


class RawStager:
    """Stage one part by its items' raw bytes.

    An item whose digest the catalog stored is unchanged without being parsed. The others
    are parsed in documents of up to `batch` spans: the part's head (part 0: the file up to
    its first item; later parts: the file's prefix), the spans, each starting a line of its
    own, and the container's end tags (the last document of the last part: the file's own
    tail, so the parser checks it too). The parser must read exactly one item per span,
    starting on the span's line. Rows are written in file order. Anything unexpected raises
    RawUnsuitable (or the parser's FeedError); the caller then stages the part through the
    parser alone, discarding what was written.
    """

    def __init__(
        self,
        file_plan: Plan,
        part: Part,
        *,
        last: bool,
        lookup: DigestLookup,
        writer: SpoolWriter,
        batch: int,
        line_offset: int,
    ) -> None:
        self.scanner = _RawScanner(file_plan, part, last)
        self.lookup = lookup
        self.writer = writer
        self.batch = batch
        self.line_offset = line_offset
        self.key = raw_key(self.scanner.file_prefix)
        self.count = 0

    def close(self) -> None:
        self.scanner.close()

    def run(self, report: Callable[[int], None]) -> int:
        spans = self.scanner.spans()
        finished = False
        while not finished:
            batch: list[tuple[int, bytes]] = []
            held = 0  # a batch of huge items ends early: memory stays bounded
            finished = True
            for span in spans:
                batch.append(span)
                held += len(span[1])
                if len(batch) >= self.batch or held >= feeds.BATCH_BYTES:
                    finished = False
                    break
            self._stage(batch, finished)
            self.count += len(batch)
            report(self.count)
        return self.count

    def _stage(self, batch: list[tuple[int, bytes]], finished: bool) -> None:
        blake2b, key = hashlib.blake2b, self.key
        digests = [
            blake2b(span, digest_size=16, key=key, person=RAW_PERSON).hexdigest()
            for _, span in batch
        ]
        known = self.lookup.by_raw(digests) if digests else {}
        scanner = self.scanner
        head = scanner.prefix or scanner.head
        head_lines = 1 + head.count(b"\n")
        # Every span in file order: [line, staged row]; the parser fills in the unknown ones.
        entries: list[list[Any]] = []
        unknown: list[tuple[int, list[Any]]] = []  # (line in the document, entry)
        pieces = [head]
        document_line = head_lines
        for (line, span), digest in zip(batch, digests, strict=True):
            line += self.line_offset
            found = known.get(digest)
            if found is not None:
                sku, product = found
                entries.append([line, (UNCHANGED, line, sku, "", product, digest)])
                continue
            if not _lexically_closed(span, scanner.open_tag):
                raise RawUnsuitable("markup that may hide the end of an item")
            lines = span.count(b"\n") + 1
            if unknown and document_line + lines > _RAW_DOCUMENT_LINES:
                # Long items: this document is full, the parser reads it and a new one starts.
                self._parse(b"".join([*pieces, scanner.container_closers]), unknown)
                unknown, pieces, document_line = [], [head], head_lines
            if document_line + lines > _RAW_DOCUMENT_LINES:
                raise RawUnsuitable("an item of very many lines")
            entry: list[Any] = [line, None, digest]
            entries.append(entry)
            unknown.append((document_line, entry))
            pieces += (span, b"\n")
            document_line += lines
        if unknown or finished:
            # The last document of a part is parsed even without items: it checks the tail.
            pieces.append(scanner.tail if finished and scanner.last else scanner.container_closers)
            self._parse(b"".join(pieces), unknown)
        writer = self.writer
        for _line, staged, *_ in entries:
            if staged[0] == "rejected":
                writer.reject(*staged[1:])
            else:
                writer.add(staged)
        writer.flush()

    def _parse(self, document: bytes, unknown: list[tuple[int, list[Any]]]) -> None:
        spans = iter(unknown)
        for results in feeds.parse_feed_batches(document, known=self.lookup, batch_size=self.batch):
            for result in results:
                expected, entry = next(spans, (None, None))
                if entry is None or result.line != expected:
                    raise RawUnsuitable("the parser read items other than the spans")
                line, digest = entry[0], entry[2]
                if isinstance(result, feeds.FeedItem):
                    result.line = line
                    entry[1] = row(result, digest)
                elif isinstance(result, feeds.UnchangedItem):
                    entry[1] = (UNCHANGED, line, result.sku, result.digest, None, digest)
                else:
                    entry[1] = ("rejected", line, (result.sku or "")[:100], result.reason)
        if next(spans, None) is not None:
            raise RawUnsuitable("the parser read fewer items than the spans")


def stage_part(spec: Mapping[str, Any], report: Callable[[int], None]) -> int:
    """A worker's job: parse one part into its spool files; returns its item count."""
    file_plan = Plan(
        spec["path"],
        spec["prefix_end"],
        spec["closers"].encode(),
        spec["container"].encode(),
        tuple(spec["splits"]),
        spec["size"],
    )
    part = Part(spec["index"], spec["start"], spec["end"])
    writer = SpoolWriter(Path(spec["base"]), spec["buckets"], part.index)
    lookup = DigestLookup(spec["database"]) if spec.get("database") else None
    if lookup is not None:
        writer.open()
        stager = None
        try:
            stager = RawStager(
                file_plan,
                part,
                last=spec["last"],
                lookup=lookup,
                writer=writer,
                batch=spec["batch"],
                line_offset=spec["line_offset"],
            )
            return stager.run(report)
        except (RawUnsuitable, feeds.FeedError):
            # Staged again below, through the parser, which reports a malformed document
            # with its true line and column.
            report(0)
        finally:
            writer.close()
            if stager is not None:
                stager.close()
    stream = PartStream(file_plan, part, last=spec["last"])
    processed = 0
    try:
        writer.open()  # (again: truncates what a raw attempt wrote)
        source = cast(IO[bytes], stream)  # read() is all the parser uses
        for batch in feeds.parse_feed_batches(source, known=lookup, batch_size=spec["batch"]):
            stage_results(batch, writer, spec["line_offset"])
            processed += len(batch)
            report(processed)
    finally:
        writer.close()
        stream.close()
        if lookup is not None:
            lookup.close()
    return processed


def worker_main() -> None:
    """Entry point of a worker process: the part's spec as JSON on stdin, reports on stdout."""
    out = sys.stdout

    def report(done: int) -> None:
        out.write(f"progress {done}\n")
        out.flush()

    try:
        spec = json.loads(sys.stdin.readline())
        items, newlines = count_part(spec["path"], spec["start"], spec["end"])
        out.write(f"counted {items} {newlines}\n")
        out.flush()
        # The caller answers with the bucket count and the line offset (or goes away: EOF).
        spec.update(json.loads(sys.stdin.readline()))
        done = stage_part(spec, report)
    except feeds.FeedError as error:
        out.write(f"failed {json.dumps(str(error))}\n")
        sys.exit(3)
    except Exception:  # any failure sends the caller back to the sequential path
        out.write(f"failed {json.dumps(traceback.format_exc())}\n")
        sys.exit(4)
    out.write(f"done {done}\n")
    out.flush()


# Loads this module without running pricewatch/__init__ (which starts Celery and Django).
WORKER_BOOTSTRAP: Final = (
    "import sys, types\n"
    "root = sys.argv[1]\n"
    "for name in ('pricewatch', 'pricewatch.catalog'):\n"
    "    module = types.ModuleType(name)\n"
    "    module.__path__ = [root + '/' + name.replace('.', '/')]\n"
    "    sys.modules[name] = module\n"
    "from pricewatch.catalog import staging\n"
    "staging.worker_main()\n"
)
_ROOT: Final = str(Path(__file__).resolve().parents[2])


class WorkersFailed(Exception):
    """A worker did not finish its part; the caller stages the file sequentially."""


def run_workers(
    file_plan: Plan,
    *,
    base: Path,
    batch: int,
    database: Mapping[str, Any] | None,
    counted: Callable[[int], int],
    progress: Callable[[int], None],
) -> int:
    """Stage every part in its own process; returns the item count or raises WorkersFailed.

    Each worker first counts the items (as ``feeds.count_items`` does) and newlines of its
    part; `counted` gets the file's item count and answers the number of spool buckets.
    `progress` then gets the running total of items staged by all workers.
    """
    parts = file_plan.parts()
    processes: list[subprocess.Popen[bytes]] = []
    selector = selectors.DefaultSelector()
    try:
        for part in parts:
            spec = {
                "path": file_plan.path,
                "prefix_end": file_plan.prefix_end,
                "closers": file_plan.closers.decode(),
                "container": file_plan.container.decode(),
                "splits": list(file_plan.splits),
                "size": file_plan.size,
                "index": part.index,
                "start": part.start,
                "end": part.end,
                "last": part.index == len(parts) - 1,
                "base": str(base),
                "batch": batch,
                "database": dict(database) if database else None,
            }
            process = subprocess.Popen(
                [sys.executable, "-c", WORKER_BOOTSTRAP, _ROOT],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                close_fds=True,
            )
            processes.append(process)
            assert process.stdin is not None and process.stdout is not None
            _send(process, spec)
            selector.register(process.stdout, selectors.EVENT_READ, part.index)
        messages = _messages(selector, len(parts))
        counts: dict[int, tuple[int, int]] = {}
        for index, word, rest in messages:
            if word == "counted":
                items, newlines = rest.split()
                counts[index] = (int(items), int(newlines))
                if len(counts) == len(parts):
                    break
        else:
            raise WorkersFailed("a worker stopped before counting its part")
        buckets = counted(sum(items for items, _ in counts.values()))
        offsets = file_plan.line_offsets([counts[i][1] for i in range(len(parts))])
        for process, offset in zip(processes, offsets, strict=True):
            _send(process, {"buckets": buckets, "line_offset": offset})
        done = [0] * len(parts)
        finished = 0
        for index, word, rest in messages:
            if word == "progress":
                done[index] = int(rest)
                progress(sum(done))
            elif word == "done":
                done[index] = int(rest)
                finished += 1
        if finished != len(parts):
            raise WorkersFailed("a worker stopped before the end of its part")
        for index, process in enumerate(processes):
            if process.wait() != 0:
                raise WorkersFailed(f"part {index}: worker exited with {process.returncode}")
        return sum(done)
    finally:
        selector.close()
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()


def _send(process: subprocess.Popen[bytes], message: Mapping[str, Any]) -> None:
    assert process.stdin is not None
    try:
        process.stdin.write(json.dumps(message).encode() + b"\n")
        process.stdin.flush()
    except BrokenPipeError:
        raise WorkersFailed("a worker went away") from None


def _messages(selector: selectors.BaseSelector, workers: int) -> Iterator[tuple[int, str, str]]:
    """(worker index, word, rest) for every line the workers write, until all pipes close.

    A "failed" line raises WorkersFailed at once; lines of other kinds (a stray warning)
    are skipped.
    """
    buffers = [b""] * workers
    open_pipes = workers
    while open_pipes:
        for key, _events in selector.select():
            index: int = key.data
            data = os.read(key.fd, 65536)
            if not data:
                selector.unregister(key.fileobj)
                open_pipes -= 1
                continue
            buffers[index] += data
            *lines, buffers[index] = buffers[index].split(b"\n")
            for line in lines:
                word, _, rest = line.decode(errors="replace").partition(" ")
                if word == "failed":
                    raise WorkersFailed(f"part {index}: {json.loads(rest)}")
                if word in ("counted", "progress", "done"):
                    yield index, word, rest
