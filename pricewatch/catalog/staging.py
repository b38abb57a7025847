"""Staged feed items: the rows a stager writes and the import applies, and their spool files.

A stager turns parse results into `StagedItem` and `Rejection` rows and spools them on disk,
bucketed by sku, so that the import's apply phase holds one bucket at a time whatever the size
of the feed and can resolve duplicate skus within it. Also here: the catalog's stored digests,
which let a stager skip converting an item the catalog already holds.
"""

from __future__ import annotations

import json
import pickle
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter
from pathlib import Path
from typing import IO, Any, Final, NamedTuple, Protocol

from pricewatch.catalog import feeds
from pricewatch.catalog.models import Product
from pricewatch.core import bulk

# pickle (protocol 5, framed) reads back ~20x faster than marshal.load from a file, which
# pulls every object through a separate read call.
_PICKLE_PROTOCOL: Final = 5


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


class StagedItem(NamedTuple):
    """One item with a sku, in file order.

    `converted` is False when the stager did not convert the item because the catalog held it
    already: by its parsed `digest`, or by its bytes (`raw_digest`; then `digest` is "" and
    `product_id` names the product found with them); its other fields are then empty.
    `raw_digest` is "" unless the item was staged from its raw bytes. One flat tuple: nested
    named tuples made the spool several times slower to write and read.
    """

    line: int
    sku: str
    digest: str
    raw_digest: str
    product_id: int | None
    converted: bool
    # The Product columns the item writes (PRODUCT_COLUMNS)...
    gtin: str = ""
    mpn: str = ""
    title: str = ""
    description: str = ""
    brand: str = ""
    category: str = ""
    google_product_category: str = ""
    gender: str = ""
    condition: str = ""
    age_group: str = ""
    color: str = ""
    size: str = ""
    link: str = ""
    image_link: str = ""
    quantity: int | None = None
    extra: str = "{}"  # JSON
    # ... and its price, which goes to the product's offer (Decimals as strings: they pickle
    # several times faster).
    price: str = ""
    sale_price: str | None = None
    currency: str = ""
    availability: str = ""  # the feed's value, e.g. "in_stock", or ""

    def product_values(self) -> tuple[Any, ...]:
        """The values of PRODUCT_COLUMNS, in that order."""
        return self[_PRODUCT_START:_PRODUCT_END]


_PRODUCT_START: Final = StagedItem._fields.index("gtin")
_PRODUCT_END: Final = StagedItem._fields.index("extra") + 1
PRODUCT_COLUMNS: Final = StagedItem._fields[_PRODUCT_START:_PRODUCT_END]


class Rejection(NamedTuple):
    line: int
    sku: str
    reason: str


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


# The feed item's text fields that StagedItem holds under the same name, in its field order.
_SAME_NAMED: Final = attrgetter(*PRODUCT_COLUMNS[: PRODUCT_COLUMNS.index("link")])


def staged_item(item: feeds.FeedItem, raw_digest: str = "") -> StagedItem:
    """The row of a valid item (positional: it is built for every item of every feed)."""
    sale = item.sale_price
    return StagedItem._make(
        (
            item.line,
            item.sku,
            item.digest,
            raw_digest,
            None,
            True,
            *_SAME_NAMED(item),
            item.link or "",
            item.image_link or "",
            item.quantity,
            extra_json(item),
            str(item.price),
            None if sale is None else str(sale),
            item.currency,
            item.availability,
        )
    )


def not_converted(
    line: int, sku: str, digest: str, raw_digest: str = "", product_id: int | None = None
) -> StagedItem:
    """The row of an item the stager did not convert: the catalog holds it."""
    return StagedItem(line, sku, digest, raw_digest, product_id, False)


def rejection(item: feeds.RejectedItem, line_offset: int = 0) -> Rejection:
    return Rejection(item.line + line_offset, (item.sku or "")[:100], item.reason)


# --------------------------------------------------------------------------------------------
# Spool files
# --------------------------------------------------------------------------------------------


def spool_path(base: Path, part: int, name: int | str) -> Path:
    return base.with_name(f"{base.name}.{part}.{name}.spool")


@dataclass(slots=True)
class SpoolWriter:
    """One part's staged rows: items by sku bucket, rejections in order."""

    base: Path
    buckets: int
    part: int = 0
    files: list[IO[bytes]] = field(default_factory=list)
    pending: list[list[StagedItem]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    rejected_file: IO[bytes] | None = None

    def __enter__(self) -> SpoolWriter:
        """Open (or truncate) the part's files."""
        self.base.parent.mkdir(parents=True, exist_ok=True)
        self.files = [spool_path(self.base, self.part, n).open("wb") for n in range(self.buckets)]
        self.pending = [[] for _ in range(self.buckets)]
        self.rejected = []
        self.rejected_file = spool_path(self.base, self.part, "rejected").open("wb")
        return self

    def __exit__(self, *exc_info: object) -> None:
        for out in [*self.files, self.rejected_file]:
            if out is not None:
                out.close()

    def add(self, item: StagedItem) -> None:
        # By a hash that is the same in every process (``hash(str)`` is randomised).
        self.pending[zlib.crc32(item.sku.encode()) % self.buckets].append(item)

    def reject(self, rejected: Rejection) -> None:
        self.rejected.append(rejected)

    def add_results(
        self,
        batch: Sequence[feeds.FeedItem | feeds.RejectedItem | feeds.UnchangedItem],
        line_offset: int = 0,
    ) -> None:
        """Spool one parse batch (lines shifted by `line_offset`) and flush it."""
        feed_item, unchanged_item = feeds.FeedItem, feeds.UnchangedItem
        for result in batch:
            if isinstance(result, feed_item):
                result.line += line_offset
                self.add(staged_item(result))
            elif isinstance(result, unchanged_item):
                self.add(not_converted(result.line + line_offset, result.sku, result.digest))
            else:
                self.reject(rejection(result, line_offset))
        self.flush()

    def flush(self) -> None:
        dump = pickle.dump
        for out, rows in zip(self.files, self.pending, strict=True):
            if rows:
                # As plain tuples: a named tuple pickles through copyreg, ten times slower.
                dump(list(map(tuple, rows)), out, _PICKLE_PROTOCOL)
                rows.clear()
        if self.rejected:
            assert self.rejected_file is not None
            dump(self.rejected, self.rejected_file, _PICKLE_PROTOCOL)
            self.rejected.clear()


@dataclass(slots=True)
class Spool:
    """All parts' spool files of one job, read back bucket by bucket in file order."""

    base: Path
    buckets: int = 0
    parts: int = 1

    def writer(self, part: int = 0) -> SpoolWriter:
        return SpoolWriter(self.base, self.buckets, part)

    def items(self, bucket: int) -> list[StagedItem]:
        """The items of one bucket: part 0's, then part 1's..."""
        make = StagedItem._make
        return [make(row) for rows in self._read(bucket) for row in rows]

    def rejections(self) -> Iterator[Rejection]:
        for rows in self._read("rejected"):
            yield from rows

    def _read(self, name: int | str) -> Iterator[list[Any]]:
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


class StagingProgress(Protocol):
    """What a stager reports to its job."""

    def counted(self, total: int) -> int:
        """The feed holds `total` items; returns the number of spool buckets to write."""

    def staged(self, processed: int) -> None:
        """`processed` items are staged so far."""


# --------------------------------------------------------------------------------------------
# What the catalog holds
# --------------------------------------------------------------------------------------------


def stored_digests(skus: list[str]) -> dict[str, str]:
    """{sku: content_hash} of the products with these skus: `known` for the parser.

    Raw SQL: the ORM's ``sku__in`` prepares every value through the field (~10 us a sku).
    """
    select = (
        f"SELECT {bulk.quote('sku')}, {bulk.quote('content_hash')} FROM {bulk.table(Product)} WHERE"  # noqa: S608
    )
    return {
        sku: digest for sku, digest in bulk.select_in(select, bulk.quote("sku"), skus) if digest
    }
