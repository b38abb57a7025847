"""Facet counts, totals and list pages from an in-memory copy of the active catalog.

Counting "Brand (12)" check-boxes in the database means grouping the matching rows seven ways
on every request. Each process keeps instead the active products' facet columns (availability
from their offers, in the feed's words), current price, sort ranks and ids as numpy arrays,
dictionary-encoded, and counts a facet with one `bincount`.

A snapshot serves only the facet generation it was built in (imports and edits start a new
one, see `selectors._snapshot`) and for at most `CATALOG_FACET_CACHE_SECONDS`. The first
request that finds it stale rebuilds it with one aggregate query while other threads answer
from the expired snapshot of the same generation, or from the database; a new generation is
never waited for and built at most every `REBUILD_INTERVAL` seconds. Searches narrow by the
ids the database's text search finds; sku filters, inactive products and catalogs larger
than `CATALOG_FACET_INDEX_MAX_PRODUCTS` are left to the database (`Snapshot.answers`).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import numpy as np
from django.db import connection

from pricewatch.catalog import prices
from pricewatch.catalog.filters import FACET_FIELDS, ProductFilters
from pricewatch.catalog.models import Product
from pricewatch.pricing.models import Offer

# Prices are kept in ten-thousandths (MoneyField has 4 decimal places): exact comparisons.
PRICE_UNITS: Final = 10_000
NO_PRICE: Final = np.iinfo(np.int64).min
# Separates the values of one column in the aggregate query (never in a value: XML 1.0 and
# the API's validators refuse control characters; `_split` checks anyway).
_SEPARATOR: Final = "\x1f"
# A new generation is built at most this often (seconds); the database answers meanwhile.
REBUILD_INTERVAL: Final = 5.0
# Search masks kept per snapshot (one byte per product each): at most this many, and at most
# SEARCH_BYTES in all.
SEARCHES_KEPT: Final = 64
SEARCH_BYTES: Final = 16 * 1024 * 1024

BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]
CodeArray = np.ndarray[Any, np.dtype[np.int32]]
# A search's terms, and the function that finds their products' ids.
Search = tuple[tuple[str, ...], Callable[[], Sequence[int]]]


class _Codes(dict[str, int]):
    """value -> code, numbering unseen values as they come (`__getitem__` in `map` runs in C)."""

    def __missing__(self, value: str) -> int:
        self[value] = code = len(self)
        return code


class SnapshotUnavailable(Exception):
    """The catalog could not be copied (too large, or a value the encoding cannot carry)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    generation: str
    built_at: float  # time.monotonic()
    ids: IntArray  # ascending
    prices: IntArray  # current price in PRICE_UNITS, NO_PRICE when unknown
    codes: dict[str, CodeArray]  # facet -> one code per product
    values: dict[str, list[str]]  # facet -> code -> value
    lookup: dict[str, dict[str, int]]  # facet -> value -> code
    # List ordering name -> sort key per product: the price, or the dense rank (int32) of the
    # column in the database's own order (its collation for text).
    sort_keys: dict[str, np.ndarray[Any, Any]]
    # Masks of recent searches (terms -> mask), least recently used first.
    searches: OrderedDict[tuple[str, ...], BoolArray] = field(default_factory=OrderedDict)
    searches_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def size(self) -> int:
        return len(self.ids)

    @staticmethod
    def answers(filters: ProductFilters) -> bool:
        """Whether a snapshot can count under these filters (else: the database)."""
        return filters.active is True and not filters.sku

    def masks(self, filters: ProductFilters, search: Search | None = None) -> dict[str, BoolArray]:
        """One boolean mask per narrowing filter: each facet's own, "price" and "q".

        `search` is the search's terms and a function answering the ids of the products they
        find (the database's text search); the mask is kept for the snapshot's life, so a
        search asked again (the next page of facets, another filter) is not searched again.
        """
        masks: dict[str, BoolArray] = {}
        for name in FACET_FIELDS:
            wanted = getattr(filters, name)
            if not wanted:
                continue
            lookup = self.lookup[name]
            codes = [lookup[value] for value in wanted if value in lookup]
            column = self.codes[name]
            if len(codes) == 1:
                masks[name] = column == codes[0]
            else:
                masks[name] = np.isin(column, codes)
        if filters.price_min is not None or filters.price_max is not None:
            priced = self.prices != NO_PRICE
            if filters.price_min is not None:
                priced &= self.prices >= _units(filters.price_min, math.ceil)
            if filters.price_max is not None:
                priced &= self.prices <= _units(filters.price_max, math.floor)
            masks["price"] = priced
        if search is not None:
            masks["q"] = self._search_mask(*search)
        return masks

    def _search_mask(self, terms: tuple[str, ...], ids: Callable[[], Sequence[int]]) -> BoolArray:
        with self.searches_lock:
            mask = self.searches.get(terms)
            if mask is not None:
                self.searches.move_to_end(terms)
                return mask
        mask = self._members(ids())
        with self.searches_lock:
            self.searches[terms] = mask
            kept = max(1, min(SEARCHES_KEPT, SEARCH_BYTES // max(1, self.size)))
            while len(self.searches) > kept:
                self.searches.popitem(last=False)
        return mask

    def _members(self, ids: Sequence[int]) -> BoolArray:
        mask = np.zeros(self.size, dtype=np.bool_)
        if not len(ids):
            return mask
        wanted = np.asarray(ids, dtype=np.int64)
        positions = np.searchsorted(self.ids, wanted)
        inside = positions < self.size
        positions = positions[inside]
        mask[positions[self.ids[positions] == wanted[inside]]] = True
        return mask

    def count(self, masks: dict[str, BoolArray]) -> int:
        combined = _combine(masks.values())
        return self.size if combined is None else int(np.count_nonzero(combined))

    def facet_counts(self, masks: dict[str, BoolArray], name: str) -> list[tuple[str, int]]:
        """(value, count) of one facet under every mask but its own, zero counts left out."""
        combined = _combine(mask for key, mask in masks.items() if key != name)
        column = self.codes[name]
        if combined is not None:
            column = column[combined]
        values = self.values[name]
        counts = np.bincount(column, minlength=len(values))
        present = np.flatnonzero(counts)
        return [(values[code], int(counts[code])) for code in present.tolist()]

    def page(
        self,
        masks: dict[str, BoolArray],
        ordering: Sequence[tuple[str, bool]],
        offset: int,
        size: int,
    ) -> list[int] | None:
        """Ids of one page of the matching products in `ordering` ((name, descending) pairs,
        the id breaking ties in the last key's direction, as the database orders them);
        None when the database must order (a product without a price, sorted by price)."""
        combined = _combine(masks.values())
        rows = np.arange(self.size) if combined is None else np.flatnonzero(combined)
        if not len(rows):
            return []
        keys: list[np.ndarray[Any, Any]] = []
        for name, descending in ordering:
            column = self.sort_keys[name][rows]
            if name == "price" and bool((column == NO_PRICE).any()):
                return None  # where NULL sorts differs between databases
            keys.append(-column if descending else column)
        ids = self.ids[rows]
        keys.append(-ids if ordering[-1][1] else ids)
        end = offset + size
        if end < len(rows):
            # Only rows up to the end-th smallest first key (ties included) can be on the page.
            first = keys[0]
            keep = first <= np.partition(first, end - 1)[end - 1]
            keys = [key[keep] for key in keys]
            ids = ids[keep]
        order = np.lexsort(keys[::-1])
        return [int(pk) for pk in ids[order[offset:end]]]


def _units(value: Decimal, rounding: Callable[[Decimal], int]) -> int:
    return int(rounding(value * PRICE_UNITS))


def _combine(masks: Any) -> BoolArray | None:
    combined: BoolArray | None = None
    for mask in masks:
        combined = mask.copy() if combined is None else np.logical_and(combined, mask, out=combined)
    return combined


# List orderings the snapshot answers, with the column each sorts by (see selectors.ORDERINGS).
RANKED: Final = {
    "title": "title",
    "brand": "brand",
    "created": "created_at",
    "updated": "updated_at",
}


def build(generation: str, limit: int) -> Snapshot:
    """Copy the active products' facet columns, sort keys, price and id in one query."""
    quote = connection.ops.quote_name
    product, offer = quote(Product._meta.db_table), quote(Offer._meta.db_table)
    if connection.vendor == "postgresql":
        text_agg = "string_agg({}, E'\\x1f')"
        number_agg = "string_agg(CAST({} AS TEXT), ',')"
    else:
        text_agg = "group_concat({}, char(31))"
        number_agg = "group_concat({}, ',')"
    price = f"COALESCE(CAST(ROUND(o.{quote('price')} * {PRICE_UNITS}) AS BIGINT), {NO_PRICE})"
    ranks = [
        f"DENSE_RANK() OVER (ORDER BY p.{quote(column)}) AS {quote('rank_' + name)}"
        for name, column in RANKED.items()
    ]
    # Availability is the offer's; every other facet a column of the product.
    facets = [
        f"{'o' if name == 'availability' else 'p'}.{quote(name)} AS {quote(name)}"
        for name in FACET_FIELDS
    ]
    inner = (
        f"SELECT p.{quote('id')} AS {quote('id')}, {price} AS {quote('price')}, "  # noqa: S608
        f"{', '.join(facets)}, {', '.join(ranks)} "
        f"FROM {product} p JOIN {offer} o ON o.{quote('id')} = p.{quote('offer_id')} "
        f"WHERE p.{quote('active')}"
    )
    numbers = ["id", "price", *(f"rank_{name}" for name in RANKED)]
    # All aggregates of one query consume the same rows in the same order, so the n-th value
    # of every column belongs to the same product (`_split` checks the lengths).
    aggregates = [number_agg.format(quote(name)) for name in numbers]
    aggregates += [text_agg.format(quote(name)) for name in FACET_FIELDS]
    sql = f"SELECT COUNT(*), {', '.join(aggregates)} FROM ({inner}) s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {product} WHERE {quote('active')}")  # noqa: S608
        if cursor.fetchone()[0] > limit:
            raise SnapshotUnavailable("the catalog is larger than the facet index's limit")
        cursor.execute(sql)
        row = cursor.fetchone()
    size = int(row[0])
    arrays = {
        name: np.array(_split(text, ",", size), dtype=np.int64)
        for name, text in zip(numbers, row[1 : 1 + len(numbers)], strict=True)
    }
    order = np.argsort(arrays["id"], kind="stable")
    codes: dict[str, CodeArray] = {}
    values: dict[str, list[str]] = {}
    lookup: dict[str, dict[str, int]] = {}
    texts = row[1 + len(numbers) :]
    for name, text in zip(FACET_FIELDS, texts, strict=True):
        numbering = _Codes()
        column = np.array(
            list(map(numbering.__getitem__, _split(text, _SEPARATOR, size))), dtype=np.int32
        )
        if name == "availability":
            column, numbering = _relabelled(column, numbering, prices.feed_availability)
        codes[name] = column[order]
        values[name] = list(numbering)
        lookup[name] = dict(numbering)
    current_prices = arrays["price"][order]
    sort_keys: dict[str, np.ndarray[Any, Any]] = {"price": current_prices}
    for name in RANKED:
        sort_keys[name] = arrays[f"rank_{name}"][order].astype(np.int32)
    return Snapshot(
        generation=generation,
        built_at=time.monotonic(),
        ids=arrays["id"][order],
        prices=current_prices,
        codes=codes,
        values=values,
        lookup=lookup,
        sort_keys=sort_keys,
    )


def _relabelled(
    column: CodeArray, numbering: _Codes, label: Callable[[str], str]
) -> tuple[CodeArray, _Codes]:
    """The column's values renamed by `label` (values with one name share one code)."""
    renamed = _Codes()
    recode = np.array([renamed[label(value)] for value in numbering], dtype=np.int32)
    return (recode[column] if len(recode) else column), renamed


def _split(text: str | None, separator: str, size: int) -> list[str]:
    if size == 0:
        return []
    parts = (text or "").split(separator)
    if len(parts) != size:
        raise SnapshotUnavailable("a facet value contains the column separator")
    return parts


class FacetIndex:
    """The process's current snapshot, rebuilt when its generation or age says so."""

    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None
        # (generation, when) of a failed build: the database answers until it expires.
        self._unavailable: tuple[str, float] | None = None
        self._last_build = -math.inf
        self._lock = threading.Lock()

    def get(
        self, generation: str, max_age: float, limit: int, min_interval: float | None = None
    ) -> Snapshot | None:
        """A snapshot of `generation` at most `max_age` seconds old, or None (use the DB).

        A new generation is built at most once per `min_interval` seconds, and never waited
        for: while one is being built, or when edits come faster than that, the database
        answers (it is always current), so a burst of edits cannot keep a process busy
        rebuilding.
        """
        if min_interval is None:
            min_interval = REBUILD_INTERVAL
        now = time.monotonic()
        failed = self._unavailable
        if failed is not None and failed[0] == generation and now - failed[1] <= max_age:
            return None
        snapshot = self._snapshot
        if snapshot is not None and snapshot.generation == generation:
            if now - snapshot.built_at <= max_age:
                return snapshot
            if not self._lock.acquire(blocking=False):
                return snapshot  # another thread is rebuilding: the expired one answers
            return self._rebuild_locked(generation, max_age, limit)
        if now - self._last_build < min_interval or not self._lock.acquire(blocking=False):
            return None
        return self._rebuild_locked(generation, max_age, limit)

    def _rebuild_locked(self, generation: str, max_age: float, limit: int) -> Snapshot | None:
        try:
            current = self._snapshot
            if (
                current is not None
                and current.generation == generation
                and time.monotonic() - current.built_at <= max_age
            ):
                return current  # built by the thread we waited for
            self._last_build = time.monotonic()
            try:
                self._snapshot = build(generation, limit)
            except SnapshotUnavailable:
                self._snapshot = None
                self._unavailable = (generation, time.monotonic())
                return None
            self._unavailable = None
            return self._snapshot
        finally:
            self._lock.release()

    def clear(self) -> None:
        self._snapshot = None
        self._unavailable = None
        self._last_build = -math.inf


INDEX: Final = FacetIndex()
