"""Visible-price heuristics over the DOM of the product window (the part of the page around
the product title).

Every text that looks like a price becomes a `Candidate` with a score built from: price-ish
class/id/itemprop markers on it and its ancestors, a currency mark, closeness to the product
title, prominence (inline font size, bold), and penalties for recommendation carousels,
shipping/instalment/unit-price wording and struck-through "was" prices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from selectolax.lexbor import LexborHTMLParser, LexborNode

from pricewatch.tracking.extraction_values import (
    NUMBER_RE,
    Locale,
    availability_from_text,
    clean_price,
    find_mentions,
    normalize_currency,
    number_to_decimal,
)

ANCHOR_TAG = "pw-anchor"  # marker element the extractor inserts before the product title
MAX_PRICEISH = 400  # price-ish elements looked at per window
MAX_CANDIDATES = 25  # candidates scored per window, nearest to the title first
MAX_ITEMS = 150  # elements/texts looked at per window, nearest to the title first

# The regexes below run on lower-cased class/id/itemprop/data-* values.
# Words that mark a price element, in several languages.
_PRICEISH = re.compile(
    r"price|prix|preis|prezzo|precio|preco|preço|cena|cijena|cene|hinta|pris|fiyat|kaina|"
    r"hind|cost|amount|betrag|money|valor|tarif|цена|ціна|價|价|가격|offer-?price|sale"
)
_PRICEISH_SELECTOR = (
    '[class*="price" i], [id*="price" i], [itemprop*="price" i], [class*="prix" i], '
    '[class*="preis" i], [class*="prezzo" i], [class*="precio" i], [class*="cena" i], '
    '[class*="amount" i], [data-price], [class*="cost" i], [data-testid*="price" i], '
    '[data-qa*="price" i]'
)
# "was"/list price markers: on the element or its parent they make it a regular price.
_REGULAR = re.compile(
    r"old|was|regular|list-?price|listprice|strike|crossed|line-?through|before|rrp|uvp|msrp|"
    r"compare|original|retail|prev|streich|alt-?preis|vorher|ancien|barr|tachado|"
    r"non-?discount|full-?price|initial|standard-?price|suggested|instead"
)
_ACTIVE = re.compile(
    r"sale|special|current|now|final|actual|new|promo|offer|deal|selling|reduced|our-?price|"
    r"main|primary|buy|red\b|big|large|sell|member|today|discounted|campaign"
)
# Containers that hold other products, navigation or chrome rather than the product itself,
# or prices that are not the product's (shipping, instalments, net of tax).
# Matched at the start of a word ("withoutSidebar" is split into "without-sidebar" first).
_NOISE_CONTAINER = re.compile(
    r"(?<![a-z])(?:related|recommend|reco\b|reco[_-]|similar|carousel|slider|swiper|upsell|"
    r"cross-?sell|also|recent|viewed|bundle|accessor|suggest|teaser|banner|footer|nav|"
    r"menu|cookie|minicart|mini-cart|review|rating|shipping|delivery|installment|instalment|"
    r"financ|monthly|klarna|affirm|loyalty|bonus|voucher|coupon|tile|product-?list|"
    r"products-?list|listing|grid-?item|widget|breadcrumb|compare-|popup|modal|"
    r"cheaper|more-?offers|other-?offers|seller-?list|excl|excluding|without-?tax|"
    r"net-?price|netto|price-?tax\b|tax-?price)"
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Words right after a price that make it something else (per month, per kg, shipping...).
_NOISE_AFTER = re.compile(
    r"^\W{0,3}(?:/\s*(?:mo|month|mon|mes|monat|mois|mese|мес|kg|g|l|ml|m|m2|m²|100|stk|st|"
    r"pc|pcs|ks|szt)\b|per\b|je\b|x\s*\d|%|off\b|rabatt|points|punkte|bonus|cashback|"
    r"shipping|versand|livraison|envío|delivery|excl|exkl|ohne|netto|net\b|ht\b)",
    re.IGNORECASE,
)
# Words right before a number that make it a "was" price.
_TEXT_REGULAR = re.compile(
    r"(?:was|statt|anstatt|uvp|rrp|msrp|list price|regular|reg\.|before|avant|au lieu de|"
    r"antes|prima|era|было|старая|原價|原价|定價|定价|建議售價|建议售价|市價|市价|정가|"
    r"original|orig\.|bisher|vorher|instead of|zamiast|dříve|tidligere|ennen|"
    r"normalpris|ordinarie|eerder|van|alt)\W{0,3}$",
    re.IGNORECASE,
)
# ... or not the product's price at all (savings, shipping thresholds, instalments, net).
_TEXT_NOISE_BEFORE = re.compile(
    r"(?:save|sparen|spare|économisez|ahorra|risparmi|oszczędzasz|экономия|省|節省|节省|"
    r"절약|할인|off|rabatt|discount|shipping|versand|livraison|envío|delivery|ab|from|od|"
    r"dès|desde|от|滿|满|加購|加购|每期|分期|期|min\.|über|over|above|plus|\+|"
    r"brez ddv|bez dph|bez vat|excl\.?(?: vat| tax| btw| mwst)?|exkl\.?(?: mwst)?|ohne mwst|"
    r"netto|net|sin iva|hors taxe|ht|без ндс|ex\.? vat|ex\.? moms|ekskl\.? mva|zonder btw|"
    r"fără tva|áfa nélkül|kdv hariç|未稅|未税|세전)\W{0,3}$",
    re.IGNORECASE,
)
_SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "option", "select", "textarea", "title", "head"}
)
_STRIKE_TAGS = frozenset({"del", "s", "strike"})
_CHROME_TAGS = frozenset({"footer", "nav", "header"})  # page chrome, never the product's price
_HAS_DIGIT = re.compile(r"\d")
_FONT_SIZE = re.compile(r"font(?:-size)?\s*:[^;]*?(\d+(?:\.\d+)?)\s*(px|pt|em|rem)", re.I)
_SUP_CENTS = re.compile(r"(\d)\s*<(sup|small|span|sub)\b[^>]*>\s*[.,]?(\d{2})\s*</\2>", re.I)
_TAGS = re.compile(r"<[^>]*>")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SPACES = re.compile(r"\s+")
_NUMBER_ONLY = re.compile(r"^[^\d]{0,12}\d[\d.,'\s\u00a0\u202f-]*[^\d]{0,12}$")
_NUMBERS = re.compile(r"\d+(?:[.,' \u00a0]\d+)*")
_YEARISH = re.compile(r"^(?:19|20)\d\d$")


@dataclass
class Candidate:
    """A visible price with the evidence gathered about it."""

    amount: Decimal
    currency: str | None
    index: int  # document-order position in the window
    text: str
    score: float = 0.0
    regular: bool = False  # struck through / "was" / list price
    active: bool = False  # marked as the current/sale price
    priceish: bool = False
    noise: bool = False
    microdata: bool = False
    hidden: bool = False  # from a content/data attribute, not visible text


@dataclass
class Window:
    """The parsed product window plus what the heuristics learnt from it."""

    tree: LexborHTMLParser
    candidates: list[Candidate]
    anchor_index: int | None
    order: dict[int, int]  # node mem_id -> document-order index
    availability: str | None


@dataclass(frozen=True, slots=True)
class _Flags:
    """What one element's tag, class/id and style say (computed once per element)."""

    tag: str
    priceish: bool
    regular: bool
    active: bool
    noise: bool
    strike: bool
    prominence: float


class _Context:
    """Per-window cache of element flags: ancestors are shared by many candidates."""

    def __init__(self, title_ancestors: set[int]) -> None:
        self.cache: dict[int, _Flags] = {}
        self.title_ancestors = title_ancestors


def _flags(node: LexborNode) -> _Flags:
    tag = node.tag or ""
    attrs = node.attributes
    marks = " ".join(
        v
        for k, v in attrs.items()
        if v and len(v) < 200 and (k in ("class", "id", "itemprop") or k.startswith("data-"))
    )
    marks = _CAMEL.sub("-", marks).lower() if marks else ""
    style = (attrs.get("style") or "").lower()
    prominence = 0.0
    if style:
        m = _FONT_SIZE.search(style)
        if m:
            size = float(m.group(1)) * (16 if m.group(2) in ("em", "rem") else 1)
            prominence += min(max(size - 14, 0) / 6, 1.5)
        if "bold" in style or "font-weight:7" in style.replace(" ", ""):
            prominence += 0.3
    if tag in ("strong", "b", "h2", "h3", "h4"):
        prominence += 0.2
    noise = tag in _CHROME_TAGS or (bool(marks) and _NOISE_CONTAINER.search(marks) is not None)
    return _Flags(
        tag=tag,
        priceish=bool(marks) and _PRICEISH.search(marks) is not None,
        regular=bool(marks) and _REGULAR.search(marks) is not None,
        active=bool(marks) and _ACTIVE.search(marks) is not None,
        noise=noise,
        strike=tag in _STRIKE_TAGS or "line-through" in style,
        prominence=prominence,
    )


def _node_text(node: LexborNode) -> str:
    """Text of a small price element; `12<sup>99</sup>` becomes `12.99`."""
    html = node.html or ""
    if len(html) > 1500:
        return node.text(deep=True, separator=" ", strip=True)[:200]
    if "<!--" in html:
        html = _COMMENT.sub(" ", html)
    if "<" in html[1:]:
        html = _SUP_CENTS.sub(r"\1.\3", html)
    text = _TAGS.sub(" ", html)
    if "&" in text:
        text = (
            text.replace("&nbsp;", " ")
            .replace("&euro;", "€")
            .replace("&pound;", "£")
            .replace("&#8364;", "€")
            .replace("&amp;", "&")
        )
    return _SPACES.sub(" ", text).strip()[:200]


def build_window(
    tree: LexborHTMLParser,
    locale: Locale,
    page_currency: str | None,
    microdata_ids: set[int],
    *,
    wide: bool = False,
) -> Window:
    """Collect and score price candidates in the window DOM. A `wide` window (the retry when
    nothing credible sat near the title) gets a larger budget and looks at price-ish elements
    before plain texts, since the nearest texts already failed."""
    root = tree.body or tree.root
    order: dict[int, int] = {}
    text_hits: list[tuple[int, LexborNode, str]] = []
    anchor_index: int | None = None
    if root is None:
        return Window(tree, [], None, order, None)
    has_digit = _HAS_DIGIT.search
    # One pass numbering every node in document order; this loop is the hottest Python code
    # of the extractor, so it does as little as possible per node.
    for index, node in enumerate(root.traverse(include_text=True), 1):
        if node.is_text_node:
            text = node.text_content
            if text and len(text) < 300 and has_digit(text):
                text_hits.append((index, node, text))
        else:
            order[node.mem_id] = index
    anchor = tree.css_first(ANCHOR_TAG)
    if anchor is not None:
        anchor_index = order.get(anchor.mem_id)
    ctx = _Context(_ancestors(anchor))
    candidates: list[Candidate] = []
    seen: set[tuple[int, Decimal]] = set()

    # Work items, nearest to the title first: the page's own price is there, and busy pages
    # (hundreds of prices in carousels) must not cost hundreds of scorings.
    items: list[tuple[int, int, LexborNode, bool]] = []  # (distance, idx, node, is_element)
    for node in root.css(_PRICEISH_SELECTOR)[:MAX_PRICEISH]:
        idx = order.get(node.mem_id, 0)
        items.append((_distance(idx, anchor_index), idx, node, True))
    for idx, node, _text in text_hits:
        items.append((_distance(idx, anchor_index), idx, node, False))
    if wide:
        items.sort(key=lambda item: (not item[3], item[0], item[1]))
    else:
        items.sort(key=lambda item: (item[0], item[1]))
    max_items, max_candidates = (
        (4 * MAX_ITEMS, 4 * MAX_CANDIDATES) if wide else (MAX_ITEMS, MAX_CANDIDATES)
    )
    texts = {id(node): text for _idx, node, text in text_hits}

    owner: LexborNode | None
    for _dist, idx, node, is_element in items[:max_items]:
        if len(candidates) >= max_candidates:
            break
        if is_element:
            source = _element_source(node)
            if source is None:
                continue
            text, from_attr = source
            owner = node
        else:
            owner = node.parent
            if owner is None or owner.tag in _SKIP_TAGS:
                continue
            text = _with_neighbours(node, texts[id(node)])
            if not find_mentions(text, 1):
                continue
            from_attr = False
            idx = order.get(owner.mem_id, idx)
        for cand in _candidates_in(owner, text, idx, ctx, locale, from_attr, microdata_ids):
            key = (idx, cand.amount)
            if key not in seen:
                seen.add(key)
                candidates.append(cand)
    _finish_scores(candidates, anchor_index, page_currency)
    availability = _visible_availability(tree, root)
    return Window(tree, candidates, anchor_index, order, availability)


def _ancestors(node: LexborNode | None) -> set[int]:
    """mem_ids of a node's ancestors."""
    out: set[int] = set()
    current = node.parent if node is not None else None
    while current is not None and len(out) < 200:
        out.add(current.mem_id)
        current = current.parent
    return out


def _distance(idx: int, anchor_index: int | None) -> int:
    """Sort key: how far a node is from the title (before the title counts double)."""
    if anchor_index is None:
        return idx
    delta = idx - anchor_index
    return delta if delta >= 0 else -2 * delta


def _element_source(node: LexborNode) -> tuple[str, bool] | None:
    """(text, from_attribute) of a price-ish element, or None when it is not usable."""
    tag = node.tag
    if tag in _SKIP_TAGS:
        return None
    attrs = node.attributes
    raw = attrs.get("content") or attrs.get("data-price") or ""
    if raw and _HAS_DIGIT.search(raw) and (tag == "meta" or not node.text(deep=True)):
        return raw, True
    text = _node_text(node)
    if not text or len(text) > 80 or not _HAS_DIGIT.search(text):
        return None
    # A container holding several prices (sale + struck-through) would lose which is which:
    # leave those to its inner elements. One price split over elements ("$229<span>99</span>")
    # is read whole here. (css_first also matches the node itself, hence the children.)
    if len(_NUMBERS.findall(text)) > 1 and any(
        child.css_first(_PRICEISH_SELECTOR) is not None for child in node.iter()
    ):
        return None
    return text, False


def _short_text(node: LexborNode | None, limit: int = 12) -> str:
    if node is None:
        return ""
    if node.is_text_node:
        text = node.text_content or ""
    elif node.tag in _SKIP_TAGS:
        return ""
    else:
        text = node.text(deep=True) or ""
    return text if len(text.strip()) <= limit else ""


def _mark_text(node: LexborNode | None) -> str:
    """A neighbour's text when it can only be a currency mark or label (no digits)."""
    text = _short_text(node)
    return "" if _HAS_DIGIT.search(text) else text.strip()


def _sibling(node: LexborNode, forward: bool) -> LexborNode | None:
    """The next/previous sibling, skipping comments and whitespace-only text between tags
    (`CHF <!-- -->19.50` is one price)."""
    sibling = node.next if forward else node.prev
    for _ in range(3):
        if sibling is None:
            return None
        if sibling.is_comment_node or (
            sibling.is_text_node and not (sibling.text_content or "").strip()
        ):
            sibling = sibling.next if forward else sibling.prev
            continue
        return sibling
    return sibling


def _with_neighbours(node: LexborNode, text: str) -> str:
    """The text plus a currency mark sitting in an adjacent node (`<b>29</b> 元`)."""
    before = _mark_text(_sibling(node, False))
    after = _mark_text(_sibling(node, True))
    if not before and not after and node.parent is not None:
        # The number is alone in its element: look at the element's neighbours instead.
        before = _mark_text(_sibling(node.parent, False))
        after = _mark_text(_sibling(node.parent, True))
    return f"{before} {text.strip()} {after}".strip()


def _candidates_in(
    node: LexborNode,
    text: str,
    idx: int,
    ctx: _Context,
    locale: Locale,
    from_attr: bool,
    microdata_ids: set[int],
) -> list[Candidate]:
    """Price candidates in one element's text: each currency+number mention, or the lone
    number of a price-ish element."""
    if len(text) > 200:
        return []
    found: list[tuple[str, str | None, str, str]] = []  # (number, mark, before, after)
    label = ""
    for start, end, number, mark in find_mentions(text, 4):
        before = text[max(0, start - 20) : start]
        if not before.strip():
            # "Brez DDV: <span>36.53€</span>": the label is the previous sibling.
            label = label or _short_text(node.prev, 40)
            before = label[-20:]
        found.append((number, mark, before, text[end : end + 12]))
    if not found:
        stripped = text.strip()
        if len(stripped) > 40 or not _NUMBER_ONLY.match(stripped):
            return []
        found.append((stripped, None, "", ""))
    context = _context(node, ctx)
    out = []
    for number, sign, before, after in found:
        cand = _score(number, sign, before, after, idx, context, locale, from_attr, len(found))
        if cand is not None:
            cand.microdata = node.mem_id in microdata_ids
            if cand.microdata:
                cand.score += 1.5
            out.append(cand)
    return out


def _context(node: LexborNode, ctx: _Context) -> _Flags:
    """Combine the flags of the element and its ancestors into one set of flags.

    Noise (carousels, menus, ...) only counts below the nearest ancestor that also holds the
    product title: a container around both is the product block or a page wrapper, whatever
    its class says ("page-with-sidebar").
    """
    regular = active = priceish = noise = False
    prominence = 0.0
    cache, title_ancestors = ctx.cache, ctx.title_ancestors
    current: LexborNode | None = node
    depth = 0
    while current is not None and depth < 10:
        key = current.mem_id
        flags = cache.get(key)
        if flags is None:
            flags = cache[key] = _flags(current)
        if flags.tag in ("body", "html"):
            break
        if depth <= 3:
            regular = regular or flags.strike or (depth <= 1 and flags.regular)
            priceish = priceish or (depth <= 2 and flags.priceish)
            active = active or (depth <= 2 and flags.active)
            prominence += flags.prominence
        if key in title_ancestors:
            if depth > 3:
                break
        else:
            noise = noise or flags.noise
        current = current.parent
        depth += 1
    return _Flags("", priceish, regular, active, noise, False, prominence)


def _score(
    number: str,
    mark: str | None,
    before: str,
    after: str,
    idx: int,
    context: _Flags,
    locale: Locale,
    from_attr: bool,
    siblings: int,
) -> Candidate | None:
    # The tokeniser already isolated the number: no need for price-parser's text search here
    # (it costs ~20 µs a call and this runs for every price-looking text on the page).
    token = NUMBER_RE.search(number)
    amount = clean_price(number_to_decimal(token.group(0), locale.decimal)) if token else None
    if amount is None:
        return None
    currency = normalize_currency(mark, locale) if mark else None
    if currency is None and not from_attr and _YEARISH.match(number.strip()):
        return None
    if currency is None and not context.priceish and not from_attr:
        return None
    cand = Candidate(
        amount=amount, currency=currency, index=idx, text=number.strip(), hidden=from_attr
    )
    cand.regular = context.regular or bool(_TEXT_REGULAR.search(before))
    cand.active = context.active
    cand.priceish = context.priceish
    cand.noise = context.noise
    score = context.prominence
    if cand.priceish:
        score += 2.0
    if currency is not None:
        score += 1.5
    if _TEXT_NOISE_BEFORE.search(before) or _NOISE_AFTER.search(after):
        score -= 2.0
    if cand.noise:
        score -= 2.0
    if cand.active:
        score += 0.5
    if siblings > 1:
        score -= 0.3
    cand.score = score
    return cand


def _finish_scores(
    candidates: list[Candidate], anchor_index: int | None, page_currency: str | None
) -> None:
    """Add the scores that depend on all candidates: distance to the title, repetitions."""
    counts: dict[Decimal, int] = {}
    for cand in candidates:
        if not cand.noise:
            counts[cand.amount] = counts.get(cand.amount, 0) + 1
    for cand in candidates:
        if anchor_index is not None:
            distance = cand.index - anchor_index
            # After the title is where prices live; a little before is fine (image gallery
            # layouts put the price column first), far away is somebody else's price.
            if distance >= 0:
                cand.score += 2.5 * max(0.0, 1.0 - distance / 400)
            else:
                cand.score += 1.5 * max(0.0, 1.0 + distance / 200)
        if page_currency and cand.currency and cand.currency != page_currency:
            cand.score -= 1.0
        if counts.get(cand.amount, 0) > 1:
            cand.score += 0.3


def _visible_availability(tree: LexborHTMLParser, root: LexborNode) -> str | None:
    """Availability from visible wording in the window: out-of-stock texts, then buy buttons."""
    texts: list[str] = []
    for node in root.css("button, input[type=submit], a[class*=cart i], [class*=stock i]")[:60]:
        if node.tag == "input":
            texts.append((node.attributes.get("value") or "").lower())
        else:
            texts.append(node.text(deep=True, separator=" ", strip=True)[:120].lower())
    return availability_from_text(" | ".join(texts))


MIN_SCORE = 2.5  # below this no candidate is credible enough to report
REGULAR_PENALTY = 1.5  # how much a struck-through/"was" price ranks below a current one


def best_candidate(window: Window) -> tuple[Candidate | None, Decimal | None, float]:
    """The current price, the regular (was) price next to it, and a 0..1 confidence."""

    # Visible text first; attribute-only values (meta content, data-price) when nothing shows.
    # A was/list price ranks below a current one unless nothing else is credible.
    def rank(c: Candidate) -> tuple[bool, float]:
        return not c.hidden, c.score - (REGULAR_PENALTY if c.regular else 0.0)

    ranked = sorted(window.candidates, key=rank, reverse=True)
    if not ranked or ranked[0].score < MIN_SCORE:
        ranked = sorted(window.candidates, key=lambda c: c.score, reverse=True)
    if not ranked or ranked[0].score < MIN_SCORE:
        return None, None, 0.0
    best = ranked[0]
    neighbours = [
        c
        for c in window.candidates
        if c is not best and abs(c.index - best.index) <= 40 and not c.noise
    ]
    regular: Decimal | None = None
    if best.regular:
        lower = [
            c for c in neighbours if not c.regular and c.amount < best.amount and c.score >= 1.0
        ]
        if lower:
            chosen = max(lower, key=lambda c: c.score)
            regular = best.amount
            best = chosen
    else:
        higher = [c for c in neighbours if c.regular and c.amount > best.amount]
        if higher:
            regular = min(higher, key=lambda c: abs(c.index - best.index)).amount
    runner_up = next((c.score for c in ranked[1:] if c.amount != best.amount), 0.0)
    margin = best.score - runner_up
    confidence = max(0.2, min(0.75, 0.35 + best.score / 20 + margin / 10))
    return best, regular, round(confidence, 2)
