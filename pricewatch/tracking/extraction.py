"""Product-page price extraction: a pure function from HTML (+ URL) to price, currency and stock.

Structured data first, then the page: JSON-LD > microdata > RDFa > OpenGraph > visible-price
heuristics, voted in `_decide` (a structured price nothing visible confirms loses to two other
sources that agree; one shown struck through next to a lower price is the regular price). A
`SiteRule` wins over everything when it matches. Variants: the one the URL selects, else the one
shown near the title, else the first in stock. Only the markup around the product title is
parsed (`_window`): whole pages are mostly menus and other products' prices.
Confidence: ~0.95 site rule or agreeing sources, 0.6-0.9 one structured source, below for
heuristics, 0.0 nothing found.
"""

from __future__ import annotations

import codecs
import html as html_lib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

from pricewatch.tracking.extraction_heuristics import (
    ANCHOR_TAG,
    Window,
    best_candidate,
    build_window,
)
from pricewatch.tracking.extraction_structured import (
    Offer,
    dom_offers,
    jsonld_names,
    jsonld_offers,
    meta_offer,
)
from pricewatch.tracking.extraction_values import (
    Locale,
    availability_from_text,
    default_currency,
    make_locale,
    normalize_availability,
    normalize_currency,
    parse_price_text,
)

__all__ = [
    "Extraction",
    "SiteRule",
    "extract",
    "looks_implausible",
    "normalize_availability",
    "normalize_currency",
]

logger = logging.getLogger(__name__)

MAX_BYTES = 6_000_000  # pages beyond this are cut: product data sits in the first megabytes
WINDOW_BEFORE = 6_000  # bytes of markup kept before the product title
WINDOW_AFTER = 32_000  # ... and after it
WIDE_AFTER = 160_000  # second, wider window when the first shows no credible price
_MAX_TAGS = 4000  # cap on head-scan matches (pages with thousands of <meta>/<script> tags)

METHODS = ("json-ld", "microdata", "rdfa", "opengraph", "heuristic", "site-rule", "none")
_SOURCE_WEIGHT = {"json-ld": 1.0, "microdata": 0.9, "rdfa": 0.8, "opengraph": 0.7}


@dataclass(frozen=True)
class SiteRule:
    """Per-site extraction rule. Selectors starting with `/` or `(` are XPath, others CSS.

    `price_selector` may point at an element (its text, or `content`/`value` attribute, is
    parsed) and `currency` fixes the currency when the site shows none or an ambiguous `$`.
    """

    price_selector: str | None = None
    currency: str | None = None
    availability_selector: str | None = None
    regular_price_selector: str | None = None
    decimal_separator: str | None = None  # "," or "." to override the page's locale


@dataclass(frozen=True)
class Extraction:
    """What the extractor found on one product page."""

    price: Decimal | None
    currency: str | None  # ISO 4217
    availability: str | None  # schema.org short name, e.g. "InStock"
    regular_price: Decimal | None  # the list/strikethrough price when on sale
    title: str | None
    image: str | None  # absolute URL
    method: str  # one of METHODS
    confidence: float  # 0..1
    sku: str | None = None
    gtin: str | None = None
    brand: str | None = None
    variant: str | None = None  # the URL parameter value that selected the variant, if any
    sources: dict[str, str] = field(default_factory=dict)  # method -> price it reported


NOTHING = Extraction(None, None, None, None, None, None, "none", 0.0)


def looks_implausible(old: Decimal, new: Decimal) -> bool:
    """True when `new` is suspicious next to `old`: a factor >= 5 apart, or the same digits
    with the decimal point moved (1299 vs 12.99, 1.299 vs 1299). Re-fetch before recording."""
    try:
        if old <= 0 or new <= 0:
            return True
        ratio = max(old, new) / min(old, new)
    except ArithmeticError:
        return True
    if ratio >= 5:
        return True

    # Decimal-separator mix-ups move the point by whole digits (x10, x100, x1000), so the
    # factor test catches them; the same digits at another scale are named here for clarity.
    return _digits(old) == _digits(new) and old != new


def _digits(value: Decimal) -> str:
    """Significant digits: 12.99, 1299 and 0.1299 all give "1299"."""
    return format(value.normalize(), "f").replace(".", "").strip("0")


# ---------------------------------------------------------------------------------------------
# Decoding and the one-pass scan
# ---------------------------------------------------------------------------------------------

_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{2,40})""", re.I
)
_UTF8_NAMES = frozenset({"utf-8", "utf8", "utf_8", "unicode-1-1-utf-8", "x-unicode20utf8"})


def _to_utf8(raw: bytes) -> bytes:
    """Return the page as UTF-8 bytes (invalid sequences are left for lenient decoding)."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:]
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", "replace").encode("utf-8", "replace")
    m = _META_CHARSET.search(raw, 0, 8192)
    if m is None:
        return raw
    name = m.group(1).decode("ascii", "replace").lower()
    if name in _UTF8_NAMES:
        return raw
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return raw
    if codec in ("utf-8", "ascii") or codec.startswith("utf-16") or codec.startswith("utf-32"):
        # A page that declares UTF-16 but arrived as ASCII-compatible bytes is really UTF-8.
        return raw
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return raw  # valid UTF-8 despite the label: the label is wrong
    if codec in ("latin-1", "iso8859-1"):
        codec = "cp1252"  # browsers treat ISO-8859-1 as windows-1252
    return raw.decode(codec, "replace").encode("utf-8", "replace")


# <meta> tags worth reading: prices, currencies, availability, titles, images, itemprops.
_META_KEYS = (b"price", b"og:", b"product:", b"availab", b"urrency", b"itemprop", b"title")
# The look-ahead on the first two letters lets the engine drop most tags (div, span, a, td...)
# after two character-class tests instead of trying every alternative: it halves scan time.
_SCAN = re.compile(
    rb"<(?=[hmtsbHMTSB][1eEiItTcCoO])"
    rb"(h1|H1|meta|META|Meta|title|TITLE|Title|html|HTML|Html|script|SCRIPT|Script|body|BODY|Body)"
    rb"(?=[\s>/])([^>]{0,4000})>"
)
_ATTR = re.compile(r"""([^\s=/"'<>]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_STRIP_TAGS = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")
_SCRIPT_END = re.compile(rb"</script", re.I)


def _attrs(raw: bytes) -> dict[str, str]:
    text = raw.decode("utf-8", "replace")
    out: dict[str, str] = {}
    for m in _ATTR.finditer(text):
        key = m.group(1).lower()
        value = m.group(2) if m.group(2) is not None else m.group(3) or m.group(4) or ""
        out.setdefault(key, html_lib.unescape(value) if "&" in value else value)
    return out


def _plain(raw: bytes, limit: int = 400) -> str:
    text = _STRIP_TAGS.sub(" ", raw[: limit * 4].decode("utf-8", "replace"))
    return _SPACES.sub(" ", html_lib.unescape(text)).strip()[:limit]


@dataclass
class _Scan:
    """What one regex pass over the page found."""

    lang: str | None = None
    title: str | None = None
    body_at: int = 0
    h1s: list[tuple[int, str]] = field(default_factory=list)
    metas: dict[str, str] = field(default_factory=dict)  # property/name/itemprop -> content
    jsonld: list[str] = field(default_factory=list)


def _script_end(data: bytes, pos: int, name: bytes) -> int:
    """Where the <script> body starting at `pos` ends. A plain find for the closing tag in the
    opening tag's own spelling: a case-insensitive regex over hundreds of KB of inline
    JavaScript would be the slowest step on many pages."""
    stop = data.find(b"</" + name, pos)
    if stop < 0:
        m = _SCRIPT_END.search(data, pos)
        stop = m.start() if m else len(data)
    return stop


def _scan(data: bytes) -> _Scan:
    """Collect <html lang>, <title>, <h1>s, <meta>s and JSON-LD blocks in one regex pass
    (jumping over <script> bodies, whose JS may contain tag-like strings)."""
    scan = _Scan()
    pos = 0
    count = 0
    while count < _MAX_TAGS:
        m = _SCAN.search(data, pos)
        if m is None:
            break
        count += 1
        name = m.group(1)
        tag = name.lower()
        pos = m.end()
        if tag == b"script":
            stop = _script_end(data, pos, name)
            attrs = m.group(2)
            if b"ld+json" in attrs or b"LD+JSON" in attrs:
                scan.jsonld.append(data[pos:stop].decode("utf-8", "replace"))
            pos = stop
        elif tag == b"meta":
            raw = m.group(2)
            if not any(key in raw for key in _META_KEYS):
                continue  # viewport, robots, verification...: not worth parsing attributes
            attrs = _attrs(raw)
            key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop")
            content = attrs.get("content")
            if key and content is not None:
                scan.metas.setdefault(key.strip().lower(), content.strip())
        elif tag == b"h1":
            if len(scan.h1s) < 20:
                end = data.find(b"</h1", pos, pos + 20000)
                if end < 0:
                    end = data.find(b"</H1", pos, pos + 20000)
                scan.h1s.append((m.start(), _plain(data[pos : end if end >= 0 else pos + 2000])))
        elif tag == b"title":
            if scan.title is None and not scan.body_at:
                end = data.find(b"</", pos, pos + 5000)
                scan.title = _plain(data[pos : end if end > 0 else pos + 500]) or None
        elif tag == b"html":
            if scan.lang is None:
                attrs = _attrs(m.group(2))
                scan.lang = attrs.get("lang") or attrs.get("xml:lang")
        elif tag == b"body" and not scan.body_at:
            scan.body_at = m.start()
    return scan


# ---------------------------------------------------------------------------------------------
# The product window
# ---------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w{2,}")
# Each starts with a literal so the regex engine can skip ahead fast (no leading alternation).
_PRICE_ATTRS = (
    re.compile(rb"""itemprop=["']?price\b"""),
    re.compile(rb"""class="[^"<>]{0,80}[Pp]rice"""),
)


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def _similarity(a: str, b: str) -> float:
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / min(len(wa), len(wb))


def _containment(part: str, whole: str) -> float:
    """Share of `part`'s words that occur in `whole` (an <h1> inside a longer page title)."""
    wp, ww = _words(part), _words(whole)
    if not wp or not ww:
        return 0.0
    common = len(wp & ww)
    return common / len(wp) if common >= min(2, len(wp)) else 0.0


def _find_anchor(data: bytes, scan: _Scan, names: list[str]) -> int | None:
    """Byte offset of the product title: the <h1> most like the product's name."""
    best_at, best_sim = None, 0.0
    for at, text in scan.h1s:
        if not text:
            continue
        sim = max((_containment(text, name) for name in names), default=0.0)
        if sim > best_sim + 0.05:
            best_at, best_sim = at, sim
    if best_at is not None and best_sim >= 0.85:
        return best_at
    # The name as text somewhere in the body (pages whose <h1> is a logo or "My account").
    start = scan.body_at or 0
    for name in _name_variants(names):
        found = _find_text(data, name, start)
        if found is not None:
            return found
    if best_at is not None and best_sim >= 0.6:
        return best_at
    for regex in _PRICE_ATTRS:
        m = regex.search(data, start)
        if m is not None:
            tag_start = data.rfind(b"<", max(start, m.start() - 400), m.start())
            return tag_start if tag_start >= 0 else m.start()
    if best_at is not None:
        return best_at
    return scan.h1s[0][0] if scan.h1s else None


def _find_text(data: bytes, name: str, start: int) -> int | None:
    """Offset of the tag holding `name` as element text (whitespace-insensitive), or None."""
    words = name.split()
    if not words:
        return None
    pattern = rb"\s+".join(
        re.escape(html_lib.escape(w, quote=False).encode("utf-8")) for w in words[:8]
    )
    try:
        regex = re.compile(pattern)
    except re.error:
        return None
    pos = start
    for _ in range(5):
        m = regex.search(data, pos)
        if m is None:
            return None
        lt = data.rfind(b"<", max(start, m.start() - 2000), m.start())
        gt = data.rfind(b">", max(start, m.start() - 2000), m.start())
        if lt >= 0 and gt > lt:
            # Text content (the last tag before it is closed), not an attribute or a URL.
            tag = data[lt + 1 : lt + 8].lower()
            if not tag.startswith((b"script", b"style", b"title", b"option", b"!--")):
                return lt
        pos = m.end()
    return None


_TITLE_SEPARATORS = re.compile(r"\s+[-|\u2013\u2014:/\u2022\u00b7]\s+|\uff5c|\s*\|\s*")


def _name_variants(names: list[str]) -> list[str]:
    """Product names to look for in the body: whole names, then title segments ("Name | Shop"),
    longest first, cut to 40 characters."""
    out: list[str] = []
    for name in names:
        parts = [name, *sorted(_TITLE_SEPARATORS.split(name), key=len, reverse=True)]
        for part in parts:
            part = part.strip()[:40].strip()
            if len(part.encode("utf-8")) >= 8 and part not in out:
                out.append(part)
    return out[:4]


def _window_bytes(data: bytes, scan: _Scan, anchor: int | None, after: int) -> bytes:
    """Markup around the anchor, with a marker element inserted right before it."""
    if anchor is None:
        start = scan.body_at
        return data[start : start + WINDOW_BEFORE + after]
    start = max(scan.body_at, anchor - WINDOW_BEFORE)
    # Do not start inside a <script>: its code would be parsed as visible text.
    opened = data.rfind(b"<script", max(0, start - 200_000), start)
    if opened >= 0:
        closed = data.find(b"</script", opened, start)
        if closed < 0:
            end_script = data.find(b"</script", start, anchor)
            if end_script >= 0:
                start = end_script
    lt = data.find(b"<", start, anchor)
    if lt >= 0:
        start = lt
    end = min(len(data), anchor + after)
    marker = f"<{ANCHOR_TAG}></{ANCHOR_TAG}>".encode()
    return data[start:anchor] + marker + data[anchor:end]


@dataclass
class _Read:
    """The parsed window with everything read from it."""

    window: Window
    microdata: list[tuple[Offer, int]]
    rdfa: list[tuple[Offer, int]]


def _read_window(
    data: bytes,
    scan: _Scan,
    anchor: int | None,
    after: int,
    locale: Locale,
    known_currency: str | None,
) -> _Read:
    window_data = _window_bytes(data, scan, anchor, after)
    tree = LexborHTMLParser(window_data)
    md: list[tuple[Offer, int]] = []
    if b"itemprop" in window_data:
        md = dom_offers(tree, locale, "microdata")
    rdfa: list[tuple[Offer, int]] = []
    if b"typeof" in window_data and b"property=" in window_data:
        rdfa = dom_offers(tree, locale, "rdfa")
    page_currency = known_currency or next((m.currency for m, _ in md if m.currency), None)
    window = build_window(
        tree, locale, page_currency, {node for _, node in md}, wide=after > WINDOW_AFTER
    )
    return _Read(window, md, rdfa)


# ---------------------------------------------------------------------------------------------
# Variants selected by the URL
# ---------------------------------------------------------------------------------------------

# Parameters that name a variant outright, and weaker ones whose values must look like ids.
_VARIANT_KEYS = re.compile(r"variant|sku|variation|gtin|ean|upc|dwvar", re.IGNORECASE)
_ID_KEYS = re.compile(
    r"pid|product|item|offer|article|artikel|size|color|colour|style|option|model|^v\d?$|"
    r"^id$|code|ref",
    re.IGNORECASE,
)


def url_selectors(url: str | None) -> list[str]:
    """Identifier-like parameter values in the URL query and fragment (`#variationId=123`)."""
    if not url:
        return []
    try:
        split = urlsplit(url)
    except ValueError:
        return []
    values: list[str] = []
    for part in (split.query, split.fragment):
        if not part or "=" not in part:
            continue
        for key, value in parse_qsl(part, keep_blank_values=False):
            value = unquote(value).strip()
            if not 2 <= len(value) <= 80:
                continue
            if _VARIANT_KEYS.search(key) or (
                _ID_KEYS.search(key) and len(value) >= 3 and any(ch.isdigit() for ch in value)
            ):
                values.append(value)
    return values


def _matches(ids: Iterable[str], selectors: list[str]) -> str | None:
    for ident in ids:
        ident_l = ident.lower()
        for sel in selectors:
            sel_l = sel.lower()
            if ident_l == sel_l:
                return sel
            # URLs / @ids carrying the value as a parameter or path segment.
            if ("/" in ident_l or "=" in ident_l or "#" in ident_l) and re.search(
                r"(?<![\w])" + re.escape(sel_l) + r"(?![\w])", ident_l
            ):
                return sel
    return None


# ---------------------------------------------------------------------------------------------
# Choosing among offers
# ---------------------------------------------------------------------------------------------


@dataclass
class _Choice:
    offer: Offer
    selected_by: str | None  # URL parameter value that picked it
    ambiguous: bool  # several prices and nothing to tell them apart


def _choose_offer(
    offers: list[Offer],
    selectors: list[str],
    names: list[str],
    visible: dict[Decimal, float],
) -> _Choice | None:
    """Pick the page's own offer: URL-selected variant, else the main product's offer."""
    priced = [o for o in offers if o.price is not None]
    if not priced:
        return None
    if selectors:
        for offer in priced:
            hit = _matches(offer.ids, selectors)
            if hit:
                return _Choice(offer, hit, False)
    pool = [o for o in priced if not o.in_list] or priced
    # Main product: the one named like the page title; variants share its name.
    products: dict[int, list[Offer]] = {}
    for offer in pool:
        products.setdefault(offer.product, []).append(offer)
    main = pool[0].product
    if len(products) > 1 and names:
        best_sim = -1.0
        for index, group in products.items():
            name = group[0].name or ""
            sim = max((_similarity(name, n) for n in names), default=0.0) if name else 0.0
            if sim > best_sim + 0.1:
                main, best_sim = index, sim
    main_name = products[main][0].name
    family = [
        o
        for o in pool
        if o.product == main or (main_name and o.name and _similarity(o.name, main_name) >= 0.9)
    ]
    prices = {o.price for o in family}
    if len(prices) == 1:
        return _Choice(family[0], None, False)
    shown = [o for o in family if o.price in visible]
    if shown:
        return _Choice(max(shown, key=lambda o: visible[o.price or Decimal(0)]), None, False)
    in_stock = [o for o in family if o.availability in (None, "InStock", "LimitedAvailability")]
    return _Choice((in_stock or family)[0], None, True)


def _visible_scores(window: Window | None) -> dict[Decimal, float]:
    """Best heuristic score per amount shown in the window (ignoring carousels and was-prices)."""
    scores: dict[Decimal, float] = {}
    if window is None:
        return scores
    for cand in window.candidates:
        if cand.noise or cand.regular or cand.hidden or cand.score < 1.5:
            continue
        if cand.score > scores.get(cand.amount, -1e9):
            scores[cand.amount] = cand.score
    return scores


def _sale_fix(price: Decimal, window: Window | None) -> tuple[Decimal, Decimal] | None:
    """When the page shows `price` as a struck/old price next to a lower active one, return
    (sale price, regular price): structured data often carries the list price."""
    if window is None:
        return None
    struck = [c for c in window.candidates if c.amount == price and c.regular and not c.noise]
    if not struck or any(
        c.amount == price and not (c.regular or c.noise or c.hidden) and c.score >= 3.0
        for c in window.candidates
    ):
        return None
    for old in struck:
        lower = [
            c
            for c in window.candidates
            if not (c.regular or c.noise or c.hidden)
            and c.amount < price
            and abs(c.index - old.index) <= 40
            and c.score >= 2.0
        ]
        if lower:
            best = max(lower, key=lambda c: c.score)
            return best.amount, price
    return None


# ---------------------------------------------------------------------------------------------
# Site rules
# ---------------------------------------------------------------------------------------------


def _rule_texts(data: bytes, selector: str, tree: LexborHTMLParser | None) -> list[str]:
    """Texts (or content/value attributes) of the elements a CSS or XPath selector matches.
    A selector that does not parse matches nothing (and is logged): a broken rule must not
    cost the automatic result."""
    try:
        return _select(data, selector.strip(), tree)
    except Exception as exc:  # lxml XPathError, selectolax SelectorSyntaxError, ValueError...
        logger.warning("site rule selector %r failed: %s", selector, exc)
        return []


def _select(data: bytes, selector: str, tree: LexborHTMLParser | None) -> list[str]:
    if selector.startswith(("/", "(", "./")):
        # Imported here: lxml only for pages with XPath rules.
        from lxml import html as lxml_html  # noqa: PLC0415

        parser = lxml_html.HTMLParser(encoding="utf-8")  # the bytes are UTF-8 by now
        doc = lxml_html.fromstring(data or b"<html></html>", parser=parser)
        out: list[str] = []
        for item in doc.xpath(selector)[:20]:
            if isinstance(item, str):
                out.append(str(item))
            elif hasattr(item, "text_content"):
                attrs = item.attrib
                out.append(attrs.get("content") or attrs.get("value") or item.text_content())
        return out
    if tree is None:
        return []
    nodes = tree.css(selector)[:20]
    return [
        n.attributes.get("content")
        or n.attributes.get("value")
        or n.text(deep=True, separator=" ", strip=True)
        for n in nodes
    ]


def _apply_rule(
    data: bytes, rules: SiteRule, locale: Locale
) -> tuple[Decimal | None, Decimal | None, str | None, str | None]:
    """(price, regular price, currency, availability) from a site rule; failures give None."""
    needs_tree = any(
        s and not s.strip().startswith(("/", "(", "./"))
        for s in (rules.price_selector, rules.availability_selector, rules.regular_price_selector)
    )
    tree = LexborHTMLParser(data) if needs_tree else None
    hint = rules.decimal_separator or locale.decimal
    price = currency = availability = None
    regular = None
    if rules.price_selector:
        for text in _rule_texts(data, rules.price_selector, tree):
            price, mark = parse_price_text(text or "", hint)
            if price is not None:
                currency = normalize_currency(mark, locale)
                break
    if rules.regular_price_selector:
        for text in _rule_texts(data, rules.regular_price_selector, tree):
            regular = parse_price_text(text or "", hint)[0]
            if regular is not None:
                break
    if rules.availability_selector:
        for text in _rule_texts(data, rules.availability_selector, tree):
            availability = normalize_availability(text) or availability_from_text(text)
            if availability:
                break
    if rules.currency:
        currency = normalize_currency(rules.currency, locale) or currency
    return price, regular, currency, availability


# ---------------------------------------------------------------------------------------------
# The extractor
# ---------------------------------------------------------------------------------------------


def extract(
    html: str | bytes, url: str | None = None, *, rules: SiteRule | None = None
) -> Extraction:
    """Extract price, currency, availability and friends from one product page. Never raises."""
    try:
        return _extract(html, url, rules)
    except Exception:  # a bad page must never break a tracking run
        logger.exception("price extraction failed for %s", url)
        return NOTHING


def _extract(html: str | bytes, url: str | None, rules: SiteRule | None) -> Extraction:
    if isinstance(html, str):
        data = html.encode("utf-8", "replace")
    elif isinstance(html, bytes | bytearray | memoryview):
        data = _to_utf8(bytes(html[:MAX_BYTES]))
    else:
        return NOTHING
    data = data[:MAX_BYTES]
    if not data.strip():
        return NOTHING
    scan = _scan(data)
    locale = make_locale(url, scan.lang)
    metas = scan.metas
    selectors = url_selectors(url)

    ld_offers = jsonld_offers(scan.jsonld, locale) if scan.jsonld else []
    og = meta_offer(metas, locale)
    head_md = _head_microdata(metas, locale)
    names = [o.name for o in ld_offers if o.name and not o.in_list][:3]
    names += jsonld_names(scan.jsonld)[:3] if not names else []
    for key in ("og:title", "twitter:title"):
        if metas.get(key):
            names.append(metas[key])
    if scan.title:
        names.append(scan.title)
    anchor = _find_anchor(data, scan, names)

    fast = _fast_path(data, scan, anchor, ld_offers, og, head_md, selectors, names, locale)
    if fast is not None:
        fast_result, fast_chosen = fast
        if rules is not None:
            fast_result = _with_rule(fast_result, data, rules, locale)
        return _finish(fast_result, fast_chosen, scan, url, locale)

    known_currency = next((o.currency for o in ld_offers if o.currency), None)
    if known_currency is None and og is not None:
        known_currency = og.currency
    read = _read_window(data, scan, anchor, WINDOW_AFTER, locale, known_currency)
    if (
        not ld_offers
        and og is None
        and not read.microdata
        and best_candidate(read.window)[0] is None
        and anchor is not None
        and len(data) > anchor + WINDOW_AFTER
    ):
        # Nothing structured and nothing credible near the title: look further down.
        read = _read_window(data, scan, anchor, WIDE_AFTER, locale, known_currency)
    md, rdfa, window = read.microdata, read.rdfa, read.window
    visible = _visible_scores(window)

    chosen: dict[str, _Choice] = {}
    ld_choice = _choose_offer(ld_offers, selectors, names, visible)
    if ld_choice:
        chosen["json-ld"] = ld_choice
    md_offers = [m for m, _ in md] or head_md
    md_choice = _choose_offer(md_offers, selectors, names, _microdata_scores(md, window))
    if md_choice:
        chosen["microdata"] = md_choice
    rdfa_choice = _choose_offer([m for m, _ in rdfa], selectors, names, visible)
    if rdfa_choice:
        chosen["rdfa"] = rdfa_choice
    if og is not None:
        chosen["opengraph"] = _Choice(og, None, False)

    if "json-ld" not in chosen and _declared_not_for_sale(ld_offers):
        # The shop's own data says price 0 and out of stock: whatever numbers the page shows
        # (accessories, "was" prices in comments) are not this product's price.
        zero = next(o for o in ld_offers if o.zero)
        result = _Result(None, None, None, zero.availability, "none", 0.0, zero)
    else:
        result = _decide(chosen, window)
    if rules is not None:
        result = _with_rule(result, data, rules, locale)
    return _finish(result, chosen, scan, url, locale)


def _head_microdata(metas: dict[str, str], locale: Locale) -> list[Offer]:
    """`<meta itemprop="price">` found by the scan (often in <head>, outside the window)."""
    raw = metas.get("price")
    if not raw:
        return []
    price, mark = parse_price_text(raw, locale.decimal)
    if price is None:
        return []
    return [
        Offer(
            price=price,
            currency=normalize_currency(metas.get("pricecurrency") or mark, locale),
            availability=normalize_availability(metas.get("availability")),
            source="microdata",
        )
    ]


_OLD_PRICE_MARKUP = re.compile(
    rb"<(?:del|s|strike)[\s>]|line-through|class=[\"'][^\"'>]*(?:old|was|regular|strike|"
    rb"crossed|before|rrp|uvp|msrp|compare|original|list-?price)",
    re.IGNORECASE,
)


def _fast_path(
    data: bytes,
    scan: _Scan,
    anchor: int | None,
    ld_offers: list[Offer],
    og: Offer | None,
    head_md: list[Offer],
    selectors: list[str],
    names: list[str],
    locale: Locale,
) -> tuple[_Result, dict[str, _Choice]] | None:
    """Skip the DOM when the structured data is unambiguous, its sources agree and the price is
    printed next to the title without was-price markup. About half of all shop pages qualify,
    and the window heuristics would only confirm what the structured data says."""
    if anchor is None:
        return None
    chosen: dict[str, _Choice] = {}
    if ld_offers:
        choice = _choose_offer(ld_offers, selectors, names, {})
        if choice is None or choice.ambiguous or choice.offer.in_list:
            return None
        chosen["json-ld"] = choice
    if head_md:
        chosen["microdata"] = _Choice(head_md[0], None, False)
    if og is not None:
        chosen["opengraph"] = _Choice(og, None, False)
    if not chosen:
        return None
    method, choice = next(iter(chosen.items()))
    offer = choice.offer
    price = offer.price
    if price is None or any(c.offer.price != price for c in chosen.values()):
        return None
    region = data[max(scan.body_at, anchor - WINDOW_BEFORE) : anchor + WINDOW_AFTER]
    found = False
    for m in _price_pattern(price).finditer(region):
        if m.start() and region[m.start() - 1] in _NUMBER_BYTES:
            continue  # the tail of a longer number
        lt = region.rfind(b"<", 0, m.start())
        gt = region.rfind(b">", 0, m.start())
        if lt < 0 or gt < lt or region[lt + 1 : lt + 7].lower() in (b"script", b"style>"):
            continue  # inside a tag's attributes or in code
        if _OLD_PRICE_MARKUP.search(region, max(0, m.start() - 300), m.start()):
            return None  # shown as a was-price: let the heuristics sort out sale vs regular
        found = True
        break
    if not found:
        return None
    currency = offer.currency or next((c.offer.currency for c in chosen.values()), None)
    availability = offer.availability or next(
        (c.offer.availability for c in chosen.values() if c.offer.availability), None
    )
    confidence = 0.9 if len(chosen) == 1 else 0.95
    result = _Result(
        price,
        offer.regular_price,
        currency,
        availability,
        method,
        confidence,
        offer,
        choice.selected_by,
    )
    return result, chosen


def _price_pattern(price: Decimal) -> re.Pattern[bytes]:
    """How a page may print `price`: 1299.5 as 1,299.50 / 1.299,50 / 1 299,5 / 1299.50."""
    whole, _, frac = format(price, "f").partition(".")
    frac = frac.rstrip("0")
    head = len(whole) % 3 or 3
    groups = [whole[:head]] + [whole[i : i + 3] for i in range(head, len(whole), 3)]
    integer = rb"(?:[.,' \xc2\xa0\xe2\x80\xaf]{0,3})".join(g.encode() for g in groups)
    if frac:
        decimal = rb"(?:[.,]|</?su[bp][^>]*>)" + frac.encode() + rb"0?"
    else:
        decimal = rb"(?:[.,](?:00?|-{1,2})|[.,]?\s*<su[bp][^>]*>\s*00)?"
    # No look-behind in front: a pattern starting with a literal digit lets the engine skip
    # through the region fast (the look-behind made this 50x slower); callers check the byte
    # before a match themselves.
    return re.compile(integer + decimal + rb"(?![\d]|[.,]\d)")


_NUMBER_BYTES = frozenset(b"0123456789.,")


def _declared_not_for_sale(offers: list[Offer]) -> bool:
    main = [o for o in offers if not o.in_list]
    return bool(main) and all(
        o.zero and o.availability in ("OutOfStock", "Discontinued") for o in main
    )


def _microdata_scores(md: list[tuple[Offer, int]], window: Window) -> dict[Decimal, float]:
    """Heuristic score of each microdata price node: closeness to the title, no carousels."""
    by_index = {c.index: c for c in window.candidates if c.microdata}
    scores: dict[Decimal, float] = {}
    for offer, node_id in md:
        cand = by_index.get(window.order.get(node_id, -1))
        if cand is None or offer.price is None:
            continue
        if cand.score > scores.get(offer.price, -1e9):
            scores[offer.price] = cand.score
    return scores


@dataclass
class _Result:
    price: Decimal | None
    regular: Decimal | None
    currency: str | None
    availability: str | None
    method: str
    confidence: float
    offer: Offer | None = None
    selected_by: str | None = None


def _decide(chosen: dict[str, _Choice], window: Window) -> _Result:
    """Let the sources vote for a price (see module docstring)."""
    best, regular_h, conf_h = best_candidate(window)
    support: dict[Decimal, float] = {}
    voters: dict[Decimal, list[str]] = {}
    for source, choice in chosen.items():
        price = choice.offer.price
        if price is None:
            continue
        weight = _SOURCE_WEIGHT[source] * (0.8 if choice.ambiguous else 1.0)
        support[price] = support.get(price, 0.0) + weight
        voters.setdefault(price, []).append(source)
    if best is not None:
        weight = 0.75 if best.score >= 5.0 else 0.5
        support[best.amount] = support.get(best.amount, 0.0) + weight
        voters.setdefault(best.amount, []).append("heuristic")
    if not support:
        return _Result(None, None, None, window.availability, "none", 0.0)
    visible = _visible_scores(window)
    for price in support:
        if price in visible:
            support[price] += 0.2
    ranked = sorted(support.items(), key=lambda kv: kv[1], reverse=True)
    price, top = ranked[0]
    # Ties go to the most authoritative source (dict order follows METHODS order).
    order = {m: i for i, m in enumerate(METHODS)}
    tied = [p for p, s in ranked if abs(s - top) < 1e-9]
    if len(tied) > 1:
        price = min(tied, key=lambda p: min(order[v] for v in voters[p]))
    sources = sorted(voters[price], key=lambda v: order[v])
    method = sources[0]
    runner_up = ranked[1][1] if len(ranked) > 1 and ranked[1][0] != price else 0.0

    if method == "heuristic":
        assert best is not None
        # Structured sources lost on the price but still know currency and stock best.
        structured = [c.offer for c in chosen.values()]
        currency = best.currency or next((o.currency for o in structured if o.currency), None)
        availability = next((o.availability for o in structured if o.availability), None)
        return _Result(
            best.amount,
            regular_h,
            currency,
            availability or window.availability,
            "heuristic",
            conf_h,
        )
    choice = chosen[method]
    offer = choice.offer
    regular = offer.regular_price
    for source in sources[1:]:
        if source != "heuristic" and regular is None:
            regular = chosen[source].offer.regular_price
    if regular is None and best is not None and best.amount == price:
        regular = regular_h
    fixed = _sale_fix(price, window)
    if fixed is not None and len(sources) == 1:
        price, regular = fixed
        method_conf = 0.7
    else:
        confirmed = price in visible or len(sources) > 1
        method_conf = 0.85 if confirmed else 0.65
        if len(sources) > 1:
            method_conf = min(0.98, 0.85 + 0.05 * (len(sources) - 1))
        if method_conf > 0.6 and runner_up > 0:
            method_conf -= min(0.25, 0.25 * runner_up / max(top, 1e-9))
        if choice.ambiguous:
            method_conf -= 0.1
    availability = offer.availability
    for source in sources[1:]:
        if availability is None and source != "heuristic":
            availability = chosen[source].offer.availability
    if availability is None:
        availability = next(
            (c.offer.availability for c in chosen.values() if c.offer.availability), None
        )
    currency = offer.currency or next(
        (c.offer.currency for c in chosen.values() if c.offer.currency), None
    )
    if currency is None and best is not None and best.amount == price:
        currency = best.currency
    return _Result(
        price,
        regular if regular is not None and regular > price else None,
        currency,
        availability or window.availability,
        method,
        round(max(0.3, method_conf), 2),
        offer,
        choice.selected_by,
    )


def _with_rule(result: _Result, data: bytes, rules: SiteRule, locale: Locale) -> _Result:
    price, regular, currency, availability = _apply_rule(data, rules, locale)
    if price is None:
        if rules.currency and result.price is not None:
            result.currency = normalize_currency(rules.currency, locale) or result.currency
        if availability:
            result.availability = availability
        return result
    return _Result(
        price,
        regular if regular is not None and regular > price else None,
        currency or result.currency,
        availability or result.availability,
        "site-rule",
        0.95,
        result.offer,
        result.selected_by,
    )


def _finish(
    result: _Result,
    chosen: dict[str, _Choice],
    scan: _Scan,
    url: str | None,
    locale: Locale,
) -> Extraction:
    offer = result.offer
    title = (
        (offer.name if offer else None)
        or scan.metas.get("og:title")
        or next((t for _, t in scan.h1s if t), None)
        or scan.title
    )
    image = (offer.image if offer else None) or scan.metas.get("og:image")
    if image and "&" in image:
        image = html_lib.unescape(image)  # JSON-LD written by HTML templates keeps "&amp;"
    if image and url:
        try:
            image = urljoin(url, image)
        except ValueError:
            image = None
    currency = result.currency
    if result.price is not None and currency is None:
        currency = default_currency(locale)
    if result.price is None:
        currency = None
    return Extraction(
        price=result.price,
        currency=currency,
        availability=result.availability,
        regular_price=result.regular,
        title=title[:300] if title else None,
        image=image,
        method=result.method if result.price is not None else "none",
        confidence=result.confidence if result.price is not None else 0.0,
        sku=offer.sku if offer else None,
        gtin=offer.gtin if offer else None,
        brand=offer.brand if offer else None,
        variant=result.selected_by,
        sources={k: str(c.offer.price) for k, c in chosen.items() if c.offer.price is not None},
    )
