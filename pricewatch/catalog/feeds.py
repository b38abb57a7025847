"""Streaming parser for Google Merchant Center product feeds (RSS 2.0 and Atom 1.0).

Pure module: no Django, no ORM, no network.  ``parse_feed`` turns a feed into a stream of
``FeedItem`` (a valid product) and ``RejectedItem`` (an item we refuse, with the reason), in
document order, holding only one item in memory at a time whatever the size of the file.

Contract for callers (the importer):

* ``FeedError`` means the *document* is unusable (not XML, wrong root, DOCTYPE, truncated...).
  Well-formedness can only be proven at the end of the file, so ``FeedError`` may be raised
  **after** items have already been yielded (e.g. a feed cut off in the middle of an upload).
  Consume the whole iterator into a staging table / inside a transaction and commit only once
  it finished without ``FeedError``.
* Duplicate ``sku`` values are yielded as they come; "last one wins" is the importer's rule.
  Applying upserts in the order items are yielded gives exactly that;
  ``latest_by_sku`` does it in memory for small feeds and tests.  A ``RejectedItem`` never
  cancels an earlier valid item with the same sku.
* ``OSError`` from opening or reading the source is not wrapped: it is not the feed's fault.

Decisions (Google's spec is stricter than we are in places, because we monitor prices and
want every priced product we can trust):

* Required: ``id``, ``title``, ``price``.  Google also requires description, link,
  image_link and availability; we accept items without them (empty string / ``None``)
  because the price is still meaningful.  Any URL attribute that *is* present must be an
  absolute http(s) URL, otherwise the item is rejected.
* Length limits are Google's: id 50, title 150, description 5,000, URLs 2,000, brand 70...
  Anything longer is rejected (Google would truncate or disapprove; silently truncating a
  title would make two products look alike).  Attributes without a Google limit: 5,000.
* Prices: ``"1,299.00 EUR"``, ``"15 usd"`` and ``"USD 15.00"`` are accepted; the currency
  must be a circulating ISO 4217 code.  Comma is a thousands separator only in 3-digit
  groups (``"1,5 EUR"`` is ambiguous and rejected).  At most 12 integer and 4 fraction
  digits (fits ``DecimalField(max_digits=16, decimal_places=4)``).  ``price`` and
  ``sale_price`` must be > 0, shipping prices >= 0; ``sale_price`` must use the price's
  currency and not exceed it.
* ``category`` is the first ``product_type`` (the merchant's own breadcrumb, specific and
  stable per shop) falling back to ``google_product_category`` (often omitted or a bare
  numeric taxonomy id).  Both are kept in their own fields too.
* A DOCTYPE anywhere in the prolog makes the whole document a ``FeedError`` ("DTDs are not
  allowed"), as defusedxml does: a Merchant feed never needs one and it is the vehicle for
  entity-expansion and external-entity attacks.  Entities are never resolved, nothing is
  fetched from the network or the file system either way.
* Namespaces: ``g:`` (``http://base.google.com/ns/1.0``) wins over the same attribute without
  prefix, in the Atom namespace, or in the old Google Base ``c:`` namespace
  (``http://base.google.com/cns/1.0``), which are all tolerated.  For a repeated
  single-valued attribute the first one wins.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any, Final, TypeAlias

from lxml import etree

from pricewatch.core import money
from pricewatch.core.errors import DomainError

__all__ = [
    "CURRENCIES",
    "FeedError",
    "FeedItem",
    "RejectedItem",
    "Shipping",
    "UnchangedItem",
    "count_items",
    "latest_by_sku",
    "parse_feed",
    "parse_feed_batches",
]

G_NS: Final = "http://base.google.com/ns/1.0"
C_NS: Final = "http://base.google.com/cns/1.0"
ATOM_NS: Final = "http://www.w3.org/2005/Atom"

Source: TypeAlias = "str | os.PathLike[str] | bytes | IO[bytes]"
ExtraValue: TypeAlias = "str | dict[str, str] | list[str | dict[str, str]]"

# --------------------------------------------------------------------------------------------
# ISO 4217
# --------------------------------------------------------------------------------------------

# Circulating ISO 4217 codes, the one list in pricewatch.core.money.
CURRENCIES: Final[frozenset[str]] = money.CURRENCIES

# --------------------------------------------------------------------------------------------
# Public types
# --------------------------------------------------------------------------------------------


# Not frozen: a frozen dataclass assigns each of its fields through object.__setattr__, which
# made constructing FeedItem alone cost ~8 us per item.  Treat them as read-only all the same.
@dataclass(slots=True)
class Shipping:
    """One ``<g:shipping>`` group.  ``price`` is ``None`` only if the group had none."""

    country: str
    region: str = ""
    postal_code: str = ""
    service: str = ""
    price: Decimal | None = None
    currency: str | None = None
    extra: dict[str, str] = field(default_factory=dict)  # handling/transit times, location...


@dataclass(slots=True)
class FeedItem:
    """One valid product.  Absent text attributes are ``""``, absent typed ones ``None``.

    Only ``sku``, ``title``, ``price``, ``currency`` and ``line`` have no default, so the
    importer's tests can build items with keywords.
    """

    sku: str  # g:id
    title: str
    price: Decimal
    currency: str  # ISO 4217, upper case; sale_price/cost_of_goods_sold share it
    line: int  # line of the <item>/<entry> start tag
    description: str = ""
    link: str | None = None
    image_link: str | None = None
    sale_price: Decimal | None = None
    availability: str = ""  # "in_stock" | "out_of_stock" | "preorder" | "backorder" | ""
    brand: str = ""
    gtin: str = ""  # digits only; several GTINs are comma-joined
    mpn: str = ""
    condition: str = ""  # "new" | "refurbished" | "used" | ""
    gender: str = ""  # "male" | "female" | "unisex" | ""
    age_group: str = ""  # "newborn" | "infant" | "toddler" | "kids" | "adult" | ""
    color: str = ""
    size: str = ""
    category: str = ""  # first product_type, else google_product_category (module doc)
    quantity: int | None = None  # quantity, else sell_on_google_quantity
    # Every attribute not typed here, by local name (foreign namespaces in Clark notation):
    # str for a simple element, dict for a group (tax, product_detail...), list on repeats.
    extra: dict[str, ExtraValue] = field(default_factory=dict)
    additional_image_links: tuple[str, ...] = ()
    mobile_link: str | None = None
    sale_price_effective_date: str = ""  # raw ISO 8601 interval
    cost_of_goods_sold: Decimal | None = None
    unit_pricing_measure: str = ""
    availability_date: str = ""  # raw ISO 8601
    identifier_exists: bool | None = None
    adult: bool | None = None
    is_bundle: bool | None = None
    multipack: int | None = None
    size_type: str = ""
    size_system: str = ""
    material: str = ""
    pattern: str = ""
    item_group_id: str = ""
    google_product_category: str = ""
    product_types: tuple[str, ...] = ()
    shipping: tuple[Shipping, ...] = ()
    custom_labels: tuple[str, str, str, str, str] = ("", "", "", "", "")
    excluded_destinations: tuple[str, ...] = ()
    # Digest of the item's XML (see parse_feed_batches); "" from parse_feed.
    digest: str = ""


@dataclass(slots=True)
class UnchangedItem:
    """An item whose XML digest matches the one the caller already has for its sku.

    Yielded by ``parse_feed_batches`` instead of converting the item again: re-importing an
    unchanged feed skips validation entirely.
    """

    line: int
    sku: str
    digest: str


@dataclass(frozen=True, slots=True)
class RejectedItem:
    """An item we refuse.  ``reason`` names the attribute and what is wrong with it."""

    line: int
    sku: str | None
    reason: str


class FeedError(Exception):
    """The whole document is unusable; ``line``/``column`` are 1-based when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message, line, column)
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        if self.column is None:
            return f"{self.message} (line {self.line})"
        return f"{self.message} (line {self.line}, column {self.column})"


# --------------------------------------------------------------------------------------------
# Attribute table
# --------------------------------------------------------------------------------------------

_SIMPLE: Final = 0  # single-valued text; first wins within a namespace class
_MULTI: Final = 1  # repeatable text, all kept in order
_SHIPPING: Final = 2  # nested group (or "US:CA:Ground:6.49 USD" text form)
_LINK: Final = 3  # RSS <link>text</link> or Atom <link href=".."/>

_SIMPLE_ATTRS: Final = (  # noqa: SIM905 - same table style as the currency codes
    "id title description link image_link mobile_link availability availability_date "
    "price sale_price sale_price_effective_date cost_of_goods_sold "
    "unit_pricing_measure brand gtin mpn identifier_exists "
    "condition adult age_group gender color size size_type size_system material pattern "
    "item_group_id google_product_category multipack is_bundle quantity "
    "sell_on_google_quantity custom_label_0 custom_label_1 custom_label_2 custom_label_3 "
    "custom_label_4"
).split()
_MULTI_ATTRS: Final = ("additional_image_link", "product_type", "excluded_destination")

# Google's documented maximum lengths.
_MAX_LEN: Final[dict[str, int]] = {
    "id": 50,
    "title": 150,
    "description": 5000,
    "link": 2000,
    "mobile_link": 2000,
    "image_link": 2000,
    "additional_image_link": 2000,
    "brand": 70,
    "gtin": 50,
    "mpn": 70,
    "color": 100,
    "size": 100,
    "material": 200,
    "pattern": 100,
    "item_group_id": 50,
    "product_type": 750,
    "google_product_category": 750,
    "custom_label_0": 100,
    "custom_label_1": 100,
    "custom_label_2": 100,
    "custom_label_3": 100,
    "custom_label_4": 100,
    "price": 50,
    "sale_price": 50,
    "cost_of_goods_sold": 50,
}
_DEFAULT_MAX_LEN: Final = 5000

# Atom's own entry metadata: kept in ``extra`` as "atom:<name>" because e.g. atom:id is an
# entry URI, not the merchant's product id (Google wants g:id for that).
_ATOM_META: Final = frozenset(
    {"id", "updated", "published", "author", "contributor", "rights", "source"}
)


def _build_tag_specs() -> dict[str, tuple[str, int, bool]]:
    """Clark tag -> (attribute name, kind, from g: namespace)."""
    specs: dict[str, tuple[str, int, bool]] = {}
    for names, kind in (
        (_SIMPLE_ATTRS, _SIMPLE),
        (_MULTI_ATTRS, _MULTI),
        (["shipping"], _SHIPPING),
    ):
        for name in names:
            real_kind = _LINK if name == "link" else kind
            specs[f"{{{G_NS}}}{name}"] = (name, kind, True)  # g:link is always text
            specs[name] = (name, real_kind, False)
            specs[f"{{{C_NS}}}{name}"] = (name, kind, False)
            if name not in _ATOM_META:
                specs[f"{{{ATOM_NS}}}{name}"] = (name, real_kind, False)
    # Atom spellings of the description.
    for tag in ("summary", "content"):
        specs[f"{{{ATOM_NS}}}{tag}"] = ("description", _SIMPLE, False)
    return specs


_TAG_SPECS: Final = _build_tag_specs()
_G_SIMPLE_TAGS: Final[dict[str, str]] = {
    tag: name for tag, (name, kind, is_g) in _TAG_SPECS.items() if is_g and kind == _SIMPLE
}

_ITEM_TAGS_RSS: Final = ("item",)
_ITEM_TAGS_ATOM: Final = (f"{{{ATOM_NS}}}entry", "entry")

_AVAILABILITY: Final[dict[str, str]] = {}
for _canon, _spellings in (
    ("in_stock", ("in_stock", "in stock", "in-stock", "instock")),
    ("out_of_stock", ("out_of_stock", "out of stock", "out-of-stock", "outofstock")),
    ("preorder", ("preorder", "pre-order", "pre_order", "pre order")),
    ("backorder", ("backorder", "back-order", "back_order", "back order")),
):
    for _s in _spellings:
        _AVAILABILITY[_s] = _canon
_CONDITIONS: Final = frozenset({"new", "refurbished", "used"})
_GENDERS: Final = frozenset({"male", "female", "unisex"})
_AGE_GROUPS: Final = frozenset({"newborn", "infant", "toddler", "kids", "adult"})
_BOOLEANS: Final[dict[str, bool]] = {"yes": True, "true": True, "no": False, "false": False}

# Compiled once: per-item regex compilation would dominate the parse time.
_PRICE_RE: Final = re.compile(
    r"(?:([A-Za-z]{3})\s*)?(-)?\s*([0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z]{3})?"
)
_GROUPED_RE: Final = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")
_URL_RE: Final = re.compile(
    r"https?://(?:[^\s/?#@]*@)?(?:[^\s/?#:@\[\]]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?(?:[/?#]\S*)?",
    re.IGNORECASE,
)
_GTIN_JUNK_RE: Final = re.compile(r"[\s-]")
_ERR_POS_RE: Final = re.compile(r", line \d+, column \d+$")

# --------------------------------------------------------------------------------------------
# Parser configuration
# --------------------------------------------------------------------------------------------

# Never resolve entities, never touch the network or load a DTD, keep libxml2's default
# size limits (huge_tree=False: 10 MB text nodes, depth 256, entity amplification guard).
_SAFE_PARSER_OPTIONS: Final[dict[str, Any]] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "attribute_defaults": False,
    "huge_tree": False,
    "collect_ids": False,  # no ID hash table growing with the document
    "remove_comments": True,  # so that iterating an item's children sees only elements
    "remove_blank_text": True,  # no whitespace-only nodes between elements: ~15% faster
    "remove_pis": True,
    "recover": False,
}
_CHUNK: Final = 128 * 1024
# An item still open after this many chunks (~1 MiB) is pruned as it grows and rejected.
_MAX_ITEM_CHUNKS: Final = 8
_MAX_ITEM_BYTES: Final = _MAX_ITEM_CHUNKS * _CHUNK
# The root element must start within this many bytes; a Merchant feed's prolog is tiny.
_MAX_PROLOG: Final = 1024 * 1024
_MAX_MONEY_INT_DIGITS: Final = 12
_MAX_MONEY_FRAC_DIGITS: Final = 4


class _Reject(Exception):
    """Raised inside item validation; becomes a RejectedItem."""


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------


def parse_feed(
    source: Source, *, default_currency: str | None = None
) -> Iterator[FeedItem | RejectedItem]:
    """Stream ``FeedItem``/``RejectedItem`` objects out of a Google Merchant feed.

    ``source`` is a file path (``str`` or ``PathLike``), the document itself as ``bytes``,
    or a binary file object (read in chunks, not closed).  ``default_currency`` is used for
    prices without a currency code (Google requires one, so the default is to reject).

    Raises ``FeedError`` when the document is unusable.  Because a truncated or otherwise
    malformed file is only detected when the parser reaches the problem, **``FeedError`` may
    be raised after some items were yielded**: stage everything and commit only after the
    iterator is exhausted.  Memory use is bounded by the largest single item (itself capped
    at about 1 MiB), not by the size of the file.
    """
    default_currency = _check_default_currency(default_currency)
    stream, owned = _open(source)
    try:
        build = _build_item
        for elem, line in _parse_stream(stream):
            if elem is None:
                yield RejectedItem(line, None, _OVERSIZED)
                continue
            yield build(elem, line, default_currency)
            elem.clear(keep_tail=False)
    finally:
        if owned:
            stream.close()


KnownDigests: TypeAlias = "Callable[[list[str]], Mapping[str, str]]"
# A batch of parse_feed_batches also ends once its items' XML reaches this size, so that
# memory stays bounded when every item is near the ~1 MiB item limit.
BATCH_BYTES: Final = 16 * 1024 * 1024


def parse_feed_batches(
    source: Source,
    *,
    default_currency: str | None = None,
    known: KnownDigests | None = None,
    batch_size: int = 1000,
) -> Iterator[list[FeedItem | RejectedItem | UnchangedItem]]:
    """Like ``parse_feed``, in lists of up to ``batch_size`` results, each item digested.

    Every valid ``FeedItem`` carries ``digest``: 32 hex digits of a keyed BLAKE2b over the
    item's XML as libxml2 re-serialises it at its end tag (and the parser version and
    default currency), so two byte-identical items have the same digest wherever they
    stand in the file, and any edit changes it.  When
    ``known`` is given it is called once per batch with the raw ids of the batch's items
    and answers ``{sku: digest}`` for the skus the caller already holds; an item whose
    digest matches is yielded as ``UnchangedItem`` without being validated again (the
    stored digest proves the same bytes were valid before).  The same ``FeedError``
    contract as ``parse_feed`` applies, between batches.
    """
    default_currency = _check_default_currency(default_currency)
    person = f"pwfeed1{default_currency or ''}".encode()
    stream, owned = _open(source)
    tostring = etree.tostring
    try:
        pending: list[tuple[etree._Element | None, int, bytes]] = []
        held = 0  # bytes of the pending items: a batch of huge items yields early
        for elem, line in _parse_stream(stream):
            # Serialised for the digest now, while the item is still in the tree: once
            # _prune has cut it out, an element in a default namespace (Atom) is written
            # with a generated prefix numbered by how many were cut out before it (ns0:,
            # ns33:...), which would make the digest depend on where chunks, batches and
            # parallel parts begin.
            raw = b"" if elem is None else tostring(elem, with_tail=False)
            pending.append((elem, line, raw))
            held += len(raw)
            if len(pending) >= batch_size or held >= BATCH_BYTES:
                yield _convert_batch(pending, default_currency, known, person)
                pending, held = [], 0
        if pending:
            yield _convert_batch(pending, default_currency, known, person)
    finally:
        if owned:
            stream.close()


def _check_default_currency(default_currency: str | None) -> str | None:
    if default_currency is None:
        return None
    try:
        return money.parse_currency(default_currency)
    except DomainError as error:
        raise ValueError(f"default_currency: {error.detail}") from None


_RAW_ID_TAGS: Final = (f"{{{G_NS}}}id", "id", f"{{{C_NS}}}id")


def _convert_batch(
    pending: list[tuple[etree._Element | None, int, bytes]],
    default_currency: str | None,
    known: KnownDigests | None,
    person: bytes,
) -> list[FeedItem | RejectedItem | UnchangedItem]:
    blake2b = hashlib.blake2b
    g_id = _RAW_ID_TAGS[0]
    digests: list[str] = []
    skus: list[str] = []
    for elem, _line, raw in pending:
        if elem is None:
            digests.append("")
            skus.append("")
            continue
        digests.append(blake2b(raw, digest_size=16, person=person).hexdigest())
        sku = ""
        # Feeds nearly always open the item with g:id, which has the highest priority
        # anyway: one child access instead of up to three ElementPath searches (~3 us).
        first = elem[0] if len(elem) else None
        if first is not None and first.tag == g_id and not len(first):
            text = first.text
            sku = text.strip() if text else ""
        if not sku:
            for tag in _RAW_ID_TAGS:
                text = elem.findtext(tag)
                if text and (sku := text.strip()):
                    break
        skus.append(sku)
    stored = known([sku for sku in skus if sku]) if known is not None else {}
    results: list[FeedItem | RejectedItem | UnchangedItem] = []
    build = _build_item
    for (elem, line, _raw), digest, sku in zip(pending, digests, skus, strict=True):
        if elem is None:
            results.append(RejectedItem(line, None, _OVERSIZED))
            continue
        if sku and stored.get(sku) == digest:
            results.append(UnchangedItem(line, sku, digest))
        else:
            result = build(elem, line, default_currency)
            if isinstance(result, FeedItem):
                result.digest = digest
            results.append(result)
        elem.clear(keep_tail=False)
    return results


def count_items(source: Source) -> int:
    """Estimate the number of items cheaply (~400 MB/s), for progress bars.

    A byte scan for ``<item``/``<entry`` start tags (any prefix), no XML parsing: tags in
    comments or CDATA are counted too and UTF-16 feeds count as 0.  A seekable file object
    is rewound to where it was; any other is consumed.
    """
    stream, owned = _open(source)
    position = None
    if not owned and stream.seekable():
        position = stream.tell()
    try:
        count = 0
        tail = b""
        while chunk := stream.read(1024 * 1024):
            buffer = tail + chunk
            # A match ending inside ``tail`` was already counted with the previous chunk.
            count += sum(1 for m in _ITEM_START_RE.finditer(buffer) if m.end() > len(tail))
            tail = buffer[-64:]
        return count
    finally:
        if owned:
            stream.close()
        elif position is not None:
            stream.seek(position)


# One regex beats several bytes.count() passes and also sees prefixed tags.
_ITEM_START_RE: Final = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,30}:)?(?:item|entry)[\s/>]")


def latest_by_sku(items: Iterable[FeedItem | RejectedItem]) -> dict[str, FeedItem]:
    """Resolve duplicate skus the importer's way: the last valid occurrence wins.

    Holds every distinct item in memory: fine for tests and small feeds; the streaming
    importer gets the same result by applying upserts in yield order.
    """
    latest: dict[str, FeedItem] = {}
    for item in items:
        if isinstance(item, FeedItem):
            latest.pop(item.sku, None)  # re-insert so dict order is "last seen" order
            latest[item.sku] = item
    return latest


# --------------------------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------------------------


def _open(source: Source) -> tuple[IO[bytes], bool]:
    """Return (binary stream, whether we own it and must close it)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), True
    if isinstance(source, (str, os.PathLike)):
        return open(source, "rb"), True  # closed by parse_feed's finally
    if hasattr(source, "read"):
        return source, False
    raise TypeError(f"cannot read a feed from {type(source).__name__}")


def _syntax_error(err: etree.XMLSyntaxError, what: str = "not well-formed XML") -> FeedError:
    line, column = err.position if err.position else (0, 0)
    message = _ERR_POS_RE.sub("", err.msg or str(err)) or "XML error"
    if not line and err.error_log:
        # The push parser sometimes raises a generic "no element found" at (0, 0) from close()
        # (e.g. for an undefined entity); the real cause is the newest entry of the error log
        # (which is thread-wide and also holds older, unrelated entries).
        entry = err.error_log.last_error
        if entry is not None and entry.line:
            message, line, column = entry.message, entry.line, entry.column
    return FeedError(f"{what}: {message}", line or None, column or None)


def _read(stream: IO[bytes], size: int) -> bytes:
    chunk = stream.read(size)
    if not isinstance(chunk, bytes):
        # A text-mode file would silently re-encode and break the declared encoding.
        raise TypeError("feed source must be opened in binary mode")
    return chunk


def _prolog_has_doctype(head: bytes) -> bool:
    """Look for ``<!DOCTYPE`` in the prolog before libxml2 sees a single byte of it.

    Only the prolog is inspected (XML declaration, comments, PIs, whitespace) so that an
    HTML snippet in a CDATA description does not count.  Catches UTF-8/ASCII-compatible and
    UTF-16 documents; anything this misses is caught by the docinfo check after parsing the
    prolog (libxml2 never expands entities for us, so that check is still safe).
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="ignore")
    elif head.startswith(b"<\x00"):
        text = head.decode("utf-16-le", errors="ignore")
    elif head.startswith(b"\x00<"):
        text = head.decode("utf-16-be", errors="ignore")
    else:
        text = head.decode("latin-1")  # byte-preserving; the prolog markup is ASCII
    text = text.removeprefix("\ufeff").removeprefix("\xef\xbb\xbf")
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif text.startswith("<?", i):
            end = text.find("?>", i + 2)
            if end < 0:
                return False
            i = end + 2
        elif text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            if end < 0:
                return False
            i = end + 3
        else:
            return text[i : i + 9].upper() == "<!DOCTYPE"
    return False


def _find_root(stream: IO[bytes]) -> tuple[list[bytes], bool]:
    """Read until the root element starts; check it and the prolog.

    Returns the chunks read so far (to be replayed into the real parser) and whether the
    document is Atom.  A throw-away unfiltered parser is used because the real one filters
    events by tag and would never report a wrong root element.
    """
    chunks: list[bytes] = []
    size = 0
    probe = etree.XMLPullParser(events=("start",), **_SAFE_PARSER_OPTIONS)
    while True:
        chunk = _read(stream, _CHUNK)
        if not chunk:
            break
        if not chunks and _prolog_has_doctype(chunk):
            raise FeedError("DTDs are not allowed in a product feed (<!DOCTYPE found)", 1)
        chunks.append(chunk)
        size += len(chunk)
        try:
            probe.feed(chunk)
        except etree.XMLSyntaxError as err:
            raise _syntax_error(err) from None
        for _event, root in probe.read_events():
            _check_root(root)
            return chunks, root.tag != "rss"
        if size > _MAX_PROLOG:
            raise FeedError("no root element in the first 1 MiB: not a product feed")
    if not any(c.strip() for c in chunks):
        raise FeedError("empty document", 1, 1)
    try:
        probe.close()
    except etree.XMLSyntaxError as err:
        raise _syntax_error(err) from None
    raise FeedError("no root element")  # pragma: no cover - libxml2 errors first


def _check_root(root: etree._Element) -> None:
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.system_url:
        raise FeedError("DTDs are not allowed in a product feed", root.sourceline)
    tag = root.tag
    if tag not in ("rss", "feed", f"{{{ATOM_NS}}}feed"):
        local = tag.rpartition("}")[2] if isinstance(tag, str) else "?"
        raise FeedError(
            f"root element is <{local}>, expected <rss> (RSS 2.0) or <feed> (Atom)",
            root.sourceline,
        )


_OVERSIZED: Final = f"item is larger than {_MAX_ITEM_BYTES} bytes"


def _true_line(elem: etree._Element) -> int:
    """The line of an element's start tag (its end, like libxml2's own line numbers).

    libxml2 keeps an element's line in 16 bits; from line 65,535 on it answers with the
    line of a text node it finds below or after the element, recorded where that text
    ended. The text's own newlines lead back to where it began: the element's line when
    nothing stands between them (the usual item: a start tag, then whitespace or a child).
    """
    line = elem.sourceline or 0
    if line < 65_535:
        return line
    node = elem
    while True:
        if node.text is not None:
            return line - node.text.count("\n")
        if len(node):
            node = node[0]
            continue
        if node.tail is not None:
            return line - node.tail.count("\n")
        return line


def _parse_stream(stream: IO[bytes]) -> Iterator[tuple[etree._Element | None, int]]:
    """Yield (top-level item element, line); the element is ``None`` for an oversized item.

    The caller converts and clears each element; it stays valid after later chunks prune the
    tree around it (lxml keeps a referenced element alive when it is cut out).
    """
    chunks, is_atom = _find_root(stream)
    item_tags = frozenset(_ITEM_TAGS_ATOM if is_atom else _ITEM_TAGS_RSS)
    # Filtering by tag in C keeps Python out of the per-element loop: we only see the root's
    # start (a handle for pruning) and the start/end of items.
    parser = etree.XMLPullParser(
        events=("start", "end"),
        tag=("rss", "feed", f"{{{ATOM_NS}}}feed", *item_tags),
        **_SAFE_PARSER_OPTIONS,
    )
    root: etree._Element | None = None
    open_item: etree._Element | None = None  # the top-level item being parsed
    open_since = 0  # chunk number where open_item started
    oversized = False
    depth = 0  # item nesting: an <item> inside an <item> is just part of the outer one
    chunk_no = 0
    pending = iter(chunks)
    while True:
        error: FeedError | None = None
        chunk = next(pending, None)
        if chunk is None:
            chunk = _read(stream, _CHUNK)
        if chunk:
            chunk_no += 1
            try:
                parser.feed(chunk)
            except etree.XMLSyntaxError as err:
                error = _syntax_error(err)
        else:
            try:
                parser.close()
            except etree.XMLSyntaxError as err:
                error = _syntax_error(err, "truncated or malformed document")
        # Events collected before an error are still delivered: the caller stages anyway.
        for event, elem in parser.read_events():
            if event == "start":
                if root is None:
                    root = elem  # the first event is always the root's start
                    continue
                # An item, or an element named like the root nested somewhere: both only
                # move the depth, and only a depth-1 item end is turned into a product.
                depth += 1
                if depth == 1:
                    open_item, open_since, oversized = elem, chunk_no, False
                continue
            if elem is root:
                continue
            depth -= 1
            if depth:
                continue
            open_item = None
            if elem.tag not in item_tags:
                continue
            line = _true_line(elem)
            if oversized:
                elem.clear(keep_tail=False)
                yield None, line
            else:
                yield elem, line
        if error is not None:
            raise error
        if not chunk:
            return
        if open_item is not None and chunk_no - open_since >= _MAX_ITEM_CHUNKS:
            oversized = True
        _prune(
            root,
            None if oversized else open_item,
            item_tags,
            open_item if oversized else None,
        )


def _prune(
    root: etree._Element | None,
    keep: etree._Element | None,
    item_tags: frozenset[str],
    oversized: etree._Element | None,
) -> None:
    """Free everything that is finished: all but the last child along the open spine.

    The element being built at each depth is always its parent's last child, so deleting
    earlier siblings never touches a node libxml2 is still writing.  This bounds memory even
    for junk that is not an item (millions of <foo/> in <channel>).  ``keep`` (the open
    item) is not entered, nor is a finished item (its caller may not have converted it yet:
    deleting it from the tree keeps it alive for the caller), unless it is the ``oversized``
    open item, which is going to be rejected.
    """
    node = root
    while node is not None and node is not keep:
        n = len(node)
        if n == 0:
            return
        if n > 1:
            del node[: n - 1]
        node = node[0]
        if node.tag in item_tags and node is not oversized:
            return


# --------------------------------------------------------------------------------------------
# Item conversion
# --------------------------------------------------------------------------------------------


def _text(elem: etree._Element) -> str:
    """Element text, including text of stray child markup (unescaped HTML in descriptions)."""
    if len(elem):
        return "".join(elem.itertext()).strip()
    text = elem.text
    return text.strip() if text else ""


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _extra_key(tag: str) -> str:
    if tag[0] != "{":
        return tag
    ns, _, local = tag[1:].partition("}")
    if ns in (G_NS, C_NS):
        return local
    if ns == ATOM_NS:
        return f"atom:{local}" if local in _ATOM_META else local
    return tag  # foreign namespace: Clark notation, no collisions


def _group(elem: etree._Element) -> dict[str, str]:
    """A nested attribute group (tax, product_detail, installment...) as a flat dict."""
    return {_local(c.tag): _text(c) for c in elem if isinstance(c.tag, str)}


def _add_extra(extra: dict[str, ExtraValue], child: etree._Element) -> None:
    tag = child.tag
    if not isinstance(tag, str):
        return  # entity reference node (entities are never resolved)
    value: str | dict[str, str] = _group(child) if len(child) else _text(child)
    if not value:
        return
    key = _extra_key(tag)
    previous = extra.get(key)
    if previous is None:
        extra[key] = value
    elif isinstance(previous, list):
        previous.append(value)
    else:
        extra[key] = [previous, value]


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _too_long(name: str, text: str, limit: int) -> _Reject:
    return _Reject(f"{name}: {len(text)} characters, the maximum is {limit}")


def _build_item(
    elem: etree._Element, line: int, default_currency: str | None
) -> FeedItem | RejectedItem:
    """Turn one <item>/<entry> into a FeedItem or a RejectedItem.

    This is the hot path (runs once per product): one pass over the children dispatching on
    the Clark tag, then validation that only touches attributes that are present.
    """
    values: dict[str, str] = {}  # g: namespace, first occurrence wins
    fallback: dict[str, str] | None = None  # no namespace / Atom / c:, lower priority
    multi: dict[str, list[str]] | None = None
    shipping: list[etree._Element | str] | None = None
    extra: dict[str, ExtraValue] = {}
    too_long: _Reject | None = None
    g_simple = _G_SIMPLE_TAGS
    specs = _TAG_SPECS
    max_len = _MAX_LEN
    for child in elem:
        tag = child.tag
        name = g_simple.get(tag)
        if name is not None and not len(child):
            # Fast path for the bulk of a feed: a single-valued g: attribute holding text.
            text = child.text
            if text and (text := text.strip()) and name not in values:
                # Shortest limit is 50 (id): one comparison for the common case.
                if len(text) > 50 and too_long is None:
                    limit = max_len.get(name, _DEFAULT_MAX_LEN)
                    if len(text) > limit:
                        too_long = _too_long(name, text, limit)
                values[name] = text
            continue
        spec = specs.get(tag)
        if spec is None:
            _add_extra(extra, child)
            continue
        name, kind, is_g = spec
        if kind == _SHIPPING:
            if shipping is None:
                shipping = []
            shipping.append(child if len(child) else _text(child))
            continue
        text = child.text
        if len(child):
            text = "".join(child.itertext())
        if text is not None:
            text = text.strip()
        if not text:
            if kind != _LINK:
                continue
            # Atom: <link rel="alternate" href="..."/>; other rels (self, edit) are ignored.
            if child.get("rel", "alternate") != "alternate":
                continue
            text = (child.get("href") or "").strip()
            if not text:
                continue
        if len(text) > 50 and too_long is None:
            limit = max_len.get(name, _DEFAULT_MAX_LEN)
            if len(text) > limit:
                too_long = _too_long(name, text, limit)
        if kind == _MULTI:
            if multi is None:
                multi = {}
            multi.setdefault(name, []).append(text)
        elif is_g:
            if name not in values:
                values[name] = text
        else:
            if fallback is None:
                fallback = {}
            if name not in fallback:
                fallback[name] = text
    if fallback is not None:
        fallback.update(values)
        values = fallback
    sku = values.get("id")  # before _validate consumes ``values``
    try:
        if too_long is not None:
            raise too_long
        return _validate(values, multi, shipping, extra, line, default_currency)
    except _Reject as reject:
        return RejectedItem(line, sku[:100] if sku else sku, str(reject))


def _validate(
    values: dict[str, str],
    multi: dict[str, list[str]] | None,
    shipping_raw: list[etree._Element | str] | None,
    extra: dict[str, ExtraValue],
    line: int,
    default_currency: str | None,
) -> FeedItem:
    sku = values.pop("id", None)
    title = values.pop("title", None)
    price_text = values.pop("price", None)
    if sku is None or title is None or price_text is None:
        missing = [n for n, v in (("id", sku), ("title", title), ("price", price_text)) if not v]
        raise _Reject(f"missing required attribute(s): {', '.join(missing)}")
    for extra_name, extra_value in extra.items():
        for one in extra_value if isinstance(extra_value, list) else (extra_value,):
            for piece in one.values() if isinstance(one, dict) else (one,):
                if len(piece) > _DEFAULT_MAX_LEN:
                    raise _too_long(extra_name, piece, _DEFAULT_MAX_LEN)
    price, currency = _parse_money(price_text, "price", default_currency)
    # ``values`` becomes the FeedItem keyword arguments: plain attributes are already named
    # like their field, so only the ones needing conversion are visited (a C-level set
    # intersection instead of a Python loop over every attribute).
    kw: dict[str, Any] = values
    if "sell_on_google_quantity" in kw and "quantity" in kw:
        extra["sell_on_google_quantity"] = kw.pop("sell_on_google_quantity")
    kw["sku"] = sku
    kw["title"] = title
    kw["price"] = price
    kw["currency"] = currency
    kw["line"] = line
    kw["extra"] = extra
    handlers = _HANDLERS
    for name in kw.keys() & _HANDLERS.keys():
        handlers[name](kw.pop(name), kw)
    if multi is not None:
        additional = multi.get("additional_image_link")
        if additional is not None:
            for url in additional:
                _check_url(url, "additional_image_link")
            kw["additional_image_links"] = tuple(additional)
        if (product_types := multi.get("product_type")) is not None:
            kw["product_types"] = tuple(product_types)
        if (excluded := multi.get("excluded_destination")) is not None:
            kw["excluded_destinations"] = tuple(excluded)
    if shipping_raw is not None:
        kw["shipping"] = tuple(
            _parse_shipping(raw, i, currency) for i, raw in enumerate(shipping_raw, 1)
        )
    if (labels := kw.get("custom_labels")) is not None:
        kw["custom_labels"] = tuple(labels)
    product_types = kw.get("product_types")
    kw["category"] = product_types[0] if product_types else kw.get("google_product_category", "")
    return FeedItem(**kw)


# --- money ------------------------------------------------------------------------------------

# The overwhelmingly common spelling, "199.99 AED", skips the general parser.
_FAST_PRICE_RE: Final = re.compile(r"([0-9]{1,12}(?:\.[0-9]{1,4})?) ([A-Z]{3})")


def _parse_money(
    text: str, name: str, default_currency: str | None, *, allow_zero: bool = False
) -> tuple[Decimal, str]:
    match = _FAST_PRICE_RE.fullmatch(text)
    if match is not None:
        code = match[2]
        if code in CURRENCIES:
            value = Decimal(match[1])
            if value or allow_zero:
                return value, code
    return _parse_money_slow(text, name, default_currency, allow_zero)


def _parse_money_slow(
    text: str, name: str, default_currency: str | None, allow_zero: bool
) -> tuple[Decimal, str]:
    match = _PRICE_RE.fullmatch(text)
    if match is None:
        raise _Reject(f"{name}: {_short(text)} is not a price (expected e.g. '15.00 USD')")
    before, minus, amount, after = match.groups()
    if before and after:
        raise _Reject(f"{name}: {_short(text)} has two currency codes")
    if minus:
        raise _Reject(f"{name}: {_short(text)} is negative")
    if "," in amount:
        if _GROUPED_RE.fullmatch(amount) is None:
            raise _Reject(
                f"{name}: {_short(text)} has an ambiguous ',' (use '.' for decimals, "
                "',' only between groups of three digits)"
            )
        amount = amount.replace(",", "")
    whole, _, fraction = amount.partition(".")
    if len(whole.lstrip("0")) > _MAX_MONEY_INT_DIGITS:
        raise _Reject(f"{name}: {_short(text)} is implausibly large")
    if len(fraction.rstrip("0")) > _MAX_MONEY_FRAC_DIGITS:
        raise _Reject(f"{name}: {_short(text)} has more than 4 decimal places")
    code = before or after
    if code is None:
        if default_currency is None:
            raise _Reject(f"{name}: {_short(text)} has no ISO 4217 currency code")
        code = default_currency
    try:
        code = money.parse_currency(code)
    except DomainError as error:
        raise _Reject(f"{name}: {error.detail}") from None
    value = Decimal(amount)
    if not value and not allow_zero:
        raise _Reject(f"{name}: {_short(text)} must be greater than zero")
    return value, code


def _secondary_money(text: str, name: str, kw: dict[str, Any]) -> Decimal:
    """sale_price / cost_of_goods_sold: same currency as price (inherited when omitted)."""
    currency: str = kw["currency"]
    value, code = _parse_money(text, name, currency)
    if code != currency:
        raise _Reject(f"{name}: currency {code} differs from price's {currency}")
    return value


def _set_sale_price(text: str, kw: dict[str, Any]) -> None:
    value = _secondary_money(text, "sale_price", kw)
    if value > kw["price"]:
        raise _Reject(f"sale_price: {value} is higher than price {kw['price']}")
    kw["sale_price"] = value


def _set_cost(text: str, kw: dict[str, Any]) -> None:
    kw["cost_of_goods_sold"] = _secondary_money(text, "cost_of_goods_sold", kw)


# --- other attribute types ----------------------------------------------------------------


def _check_url(url: str, name: str) -> str:
    if _URL_RE.fullmatch(url) is None:
        raise _Reject(f"{name}: {_short(url)} is not an absolute http(s) URL")
    return url


def _parse_count(text: str, name: str, minimum: int) -> int:
    if not (text.isdigit() and text.isascii()) or len(text) > 12:
        raise _Reject(f"{name}: {_short(text)} is not a whole number")
    value = int(text)
    if value < minimum:
        raise _Reject(f"{name}: {value} is less than {minimum}")
    return value


def _parse_gtin(text: str) -> str:
    gtins = []
    for part in text.split(",") if "," in text else (text,):
        digits = part if part.isdigit() else _GTIN_JUNK_RE.sub("", part)
        if not (digits.isdigit() and digits.isascii() and len(digits) in (8, 12, 13, 14)):
            raise _Reject(f"gtin: {_short(part.strip())} is not an 8/12/13/14-digit GTIN")
        # GS1 mod-10 check digit: from the right of the body, weights 3, 1, 3, 1...
        # Summing ASCII bytes (minus 48 per digit) keeps the loop in C.
        raw = digits.encode("ascii")
        threes, ones = raw[-2::-2], raw[-3::-2]
        total = 3 * (sum(threes) - 48 * len(threes)) + sum(ones) - 48 * len(ones)
        if (10 - total % 10) % 10 != raw[-1] - 48:
            raise _Reject(f"gtin: {digits} has a wrong check digit")
        gtins.append(digits)
    return ",".join(gtins)


def _set_gtin(text: str, kw: dict[str, Any]) -> None:
    kw["gtin"] = _parse_gtin(text)


def _set_availability(text: str, kw: dict[str, Any]) -> None:
    value = _AVAILABILITY.get(text) or _AVAILABILITY.get(text.lower())
    if value is None:
        raise _Reject(
            f"availability: {_short(text)} is not in_stock, out_of_stock, preorder or backorder"
        )
    kw["availability"] = value


def _set_quantity(text: str, kw: dict[str, Any]) -> None:
    kw["quantity"] = _parse_count(text, "quantity", 0)


def _set_sell_on_google_quantity(text: str, kw: dict[str, Any]) -> None:
    kw["quantity"] = _parse_count(text, "sell_on_google_quantity", 0)


def _set_multipack(text: str, kw: dict[str, Any]) -> None:
    kw["multipack"] = _parse_count(text, "multipack", 1)


_Handler: TypeAlias = "Callable[[str, dict[str, Any]], None]"


def _url_handler(name: str) -> _Handler:
    def handle(text: str, kw: dict[str, Any]) -> None:
        kw[name] = _check_url(text, name)

    return handle


def _bool_handler(name: str) -> _Handler:
    def handle(text: str, kw: dict[str, Any]) -> None:
        value = _BOOLEANS.get(text) if text in _BOOLEANS else _BOOLEANS.get(text.lower())
        if value is None:
            raise _Reject(f"{name}: {_short(text)} is not yes/no (or true/false)")
        kw[name] = value

    return handle


def _enum_handler(name: str, allowed: frozenset[str]) -> _Handler:
    choices = ", ".join(sorted(allowed))

    def handle(text: str, kw: dict[str, Any]) -> None:
        value = text if text in allowed else text.lower()
        if value not in allowed:
            raise _Reject(f"{name}: {_short(text)} is not one of {choices}")
        kw[name] = value

    return handle


def _label_handler(index: int) -> _Handler:
    def handle(text: str, kw: dict[str, Any]) -> None:
        labels = kw.get("custom_labels")
        if labels is None:
            labels = kw["custom_labels"] = ["", "", "", "", ""]
        labels[index] = text

    return handle


# Attributes copied as they are (stripped, length-checked) into the FeedItem field of the
# same name.  Documentation and a test guard; _validate relies on the names matching.
_PLAIN_FIELDS: Final = frozenset(
    (
        "description",
        "brand",
        "mpn",
        "color",
        "size",
        "size_type",
        "size_system",
        "material",
        "pattern",
        "item_group_id",
        "google_product_category",
        "unit_pricing_measure",
        "availability_date",
        "sale_price_effective_date",
    )
)
# Every other single-valued attribute in _SIMPLE_ATTRS (except id/title/price, handled first).
_HANDLERS: Final[dict[str, _Handler]] = {
    "sale_price": _set_sale_price,
    "cost_of_goods_sold": _set_cost,
    "link": _url_handler("link"),
    "image_link": _url_handler("image_link"),
    "mobile_link": _url_handler("mobile_link"),
    "availability": _set_availability,
    "gtin": _set_gtin,
    "quantity": _set_quantity,
    "sell_on_google_quantity": _set_sell_on_google_quantity,
    "multipack": _set_multipack,
    "identifier_exists": _bool_handler("identifier_exists"),
    "adult": _bool_handler("adult"),
    "is_bundle": _bool_handler("is_bundle"),
    "condition": _enum_handler("condition", _CONDITIONS),
    "gender": _enum_handler("gender", _GENDERS),
    "age_group": _enum_handler("age_group", _AGE_GROUPS),
    **{f"custom_label_{i}": _label_handler(i) for i in range(5)},
}


_SHIPPING_KEYS: Final[dict[str, str]] = {
    f"{{{G_NS}}}{name}": name
    for name in ("country", "region", "postal_code", "service", "price", "location_id")
}


def _parse_shipping(raw: etree._Element | str, index: int, currency: str) -> Shipping:
    if isinstance(raw, str):
        # Google's text form: country:region:service:price (region and service may be empty)
        parts = [part.strip() for part in raw.split(":")]
        if len(parts) != 4:
            raise _Reject(f"shipping #{index}: {_short(raw)} is not 'country:region:service:price'")
        group = {"country": parts[0], "region": parts[1], "service": parts[2], "price": parts[3]}
    else:
        group = {}
        keys = _SHIPPING_KEYS
        for child in raw:
            tag = child.tag
            if isinstance(tag, str):
                text = child.text
                group[keys.get(tag) or _local(tag)] = (
                    _text(child) if len(child) else text.strip() if text else ""
                )
    country = group.pop("country", "")
    if len(country) != 2 or not (country.isalpha() and country.isascii()):
        raise _Reject(f"shipping #{index}: country {_short(country)} is not a 2-letter code")
    price_text = group.pop("price", "")
    price: Decimal | None = None
    ship_currency: str | None = None
    if price_text:
        # Free shipping is "0 USD"; an omitted currency means the item's.
        price, ship_currency = _parse_money(
            price_text, f"shipping #{index} price", currency, allow_zero=True
        )
    for key, value in group.items():
        if len(value) > _DEFAULT_MAX_LEN:
            raise _too_long(f"shipping #{index} {key}", value, _DEFAULT_MAX_LEN)
    return Shipping(
        country.upper(),
        group.pop("region", ""),
        group.pop("postal_code", ""),
        group.pop("service", ""),
        price,
        ship_currency,
        group,
    )
