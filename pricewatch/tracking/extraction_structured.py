"""Structured product data: JSON-LD, microdata, RDFa and OpenGraph/product meta tags.

Each reader returns `Offer`s; choosing between them (variants, sources) happens in `extraction`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from pricewatch.tracking.extraction_values import (
    Locale,
    normalize_availability,
    normalize_currency,
    parse_price_text,
    parse_structured_price,
)

# JSON-LD types that describe something sold. "offers" on any other type counts too.
_PRODUCT_TYPES = frozenset(
    [
        "product",
        "productgroup",
        "productmodel",
        "individualproduct",
        "someproducts",
        "vehicle",
        "car",
        "motorcycle",
        "book",
        "softwareapplication",
        "videogame",
    ]
)
_OFFER_TYPES = frozenset({"offer", "aggregateoffer"})
_REGULAR_PRICE_TYPES = frozenset(
    {"strikethroughprice", "listprice", "srp", "msrp", "recommendedretailprice", "originalprice"}
)
_LIST_TYPES = frozenset({"itemlist", "listitem", "offercatalog", "searchresultspage"})
_ID_KEYS = ("sku", "productID", "productId", "mpn", "gtin", "gtin8", "gtin12", "gtin13", "gtin14")
_MAX_NODES = 5000  # cap on JSON-LD nodes walked per page (giant catalogues in one block)


@dataclass
class Offer:
    """One priced offer for one product (or variant), from any structured source."""

    price: Decimal | None
    currency: str | None = None
    availability: str | None = None
    regular_price: Decimal | None = None
    source: str = "json-ld"
    product: int = 0  # index of the product (group) it belongs to, per source
    ids: set[str] = field(default_factory=set)  # sku/gtin/@id/url values for variant matching
    name: str | None = None
    image: str | None = None
    sku: str | None = None
    gtin: str | None = None
    brand: str | None = None
    in_list: bool = False  # part of an ItemList / related-products block
    is_range: bool = False  # AggregateOffer without concrete offers: a "from" price
    zero: bool = False  # the source states a price of 0 ("not for sale")


def _types(node: Mapping[str, Any]) -> set[str]:
    raw = node.get("@type", node.get("type"))
    values = raw if isinstance(raw, list) else [raw]
    out = set()
    for value in values:
        if isinstance(value, str):
            out.add(re.split(r"[/#:]", value)[-1].lower())
    return out


def _text(value: Any) -> str | None:
    """A plain string out of a JSON-LD value (strings, {"@value": ...}, lists, {"name": ...})."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        for item in value:
            found = _text(item)
            if found:
                return found
        return None
    if isinstance(value, dict):
        for key in ("@value", "name", "url", "@id", "contentUrl"):
            if key in value:
                return _text(value[key])
    return None


def _load_json(raw: str) -> Any:
    """json.loads that forgives what shops get wrong: comments, CDATA, trailing commas, controls."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        return json.loads(raw, strict=False)
    except (ValueError, RecursionError):
        pass
    fixed = re.sub(r"^\s*(?:<!--|<!\[CDATA\[)|(?:-->|\]\]>)\s*$", "", raw)
    fixed = re.sub(r"(?m)^\s*//.*$", "", fixed)
    fixed = re.sub(r",\s*([}\]])", r"\1", fixed)
    try:
        return json.loads(fixed, strict=False)
    except (ValueError, RecursionError):
        pass
    # Several objects pasted one after the other without a list around them.
    decoder = json.JSONDecoder(strict=False)
    items: list[Any] = []
    pos = 0
    while pos < len(fixed) and len(items) < 50:
        while pos < len(fixed) and fixed[pos] in " \t\r\n,;":
            pos += 1
        if pos >= len(fixed):
            break
        try:
            obj, pos = decoder.raw_decode(fixed, pos)
        except (ValueError, RecursionError):
            break
        items.append(obj)
    return items or None


class _JsonLd:
    """Walks parsed JSON-LD blocks and turns Product/Offer nodes into `Offer`s."""

    def __init__(self, blocks: Iterable[str], locale: Locale) -> None:
        self.locale = locale
        self.roots: list[Any] = []
        for block in blocks:
            data = _load_json(block)
            if data is not None:
                self.roots.append(data)
        self.by_id: dict[str, dict[str, Any]] = {}
        self.walked = 0
        for node, _ in self._walk_all():
            node_id = node.get("@id")
            if isinstance(node_id, str) and len(node) > 1:
                self.by_id.setdefault(node_id, node)

    def _walk_all(self) -> Iterator[tuple[dict[str, Any], bool]]:
        """Yield every dict node with a flag telling whether it sits inside a list of items."""
        stack: list[tuple[Any, bool]] = [(root, False) for root in reversed(self.roots)]
        count = 0
        while stack and count < _MAX_NODES:
            value, in_list = stack.pop()
            if isinstance(value, list):
                stack.extend((item, in_list) for item in reversed(value))
            elif isinstance(value, dict):
                count += 1
                yield value, in_list
                nested_in_list = in_list or bool(_types(value) & _LIST_TYPES)
                children = [v for v in value.values() if isinstance(v, dict | list)]
                stack.extend((child, nested_in_list) for child in reversed(children))

    def resolve(self, value: Any) -> Any:
        """Follow a bare {"@id": ...} reference to the node that defines it."""
        if isinstance(value, dict) and len(value) <= 2 and isinstance(value.get("@id"), str):
            return self.by_id.get(value["@id"], value)
        return value

    def offers(self) -> list[Offer]:
        out: list[Offer] = []
        seen_offer_nodes: set[int] = set()
        product_index = 0
        for node, in_list in self._walk_all():
            types = _types(node)
            if types & _PRODUCT_TYPES or ("offers" in node and not types & _OFFER_TYPES):
                variants = node.get("hasVariant")
                base = self._product_fields(node)
                found = self._product_offers(node, base, product_index, in_list, seen_offer_nodes)
                if isinstance(variants, dict | list):
                    for variant in variants if isinstance(variants, list) else [variants]:
                        variant = self.resolve(variant)
                        if isinstance(variant, dict):
                            fields = self._product_fields(variant, base)
                            found += self._product_offers(
                                variant, fields, product_index, in_list, seen_offer_nodes
                            )
                if found:
                    out.extend(found)
                    product_index += 1
        # Offers that hang in the graph without a product ("@type": "Offer" at top level).
        for node, in_list in self._walk_all():
            if _types(node) & _OFFER_TYPES and id(node) not in seen_offer_nodes:
                found = self._offer(node, {}, product_index, in_list)
                seen_offer_nodes.add(id(node))
                if found:
                    out.extend(found)
                    product_index += 1
        return out

    def _product_fields(
        self, node: Mapping[str, Any], base: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        fields: dict[str, Any] = dict(base or {})
        ids: set[str] = set(fields.get("ids", set()))
        for key in (*_ID_KEYS, "@id", "url", "id"):
            value = _text(node.get(key))
            if value:
                ids.add(value)
        fields["ids"] = ids
        for key in ("name", "image", "sku", "brand"):
            value = _text(node.get(key))
            if value:
                fields[key] = value
        for key in _ID_KEYS[3:]:
            value = _text(node.get(key))
            if value:
                fields["gtin"] = value
                break
        return fields

    def _product_offers(
        self,
        node: Mapping[str, Any],
        fields: dict[str, Any],
        product: int,
        in_list: bool,
        seen: set[int],
    ) -> list[Offer]:
        raw = self.resolve(node.get("offers"))
        offers = raw if isinstance(raw, list) else [raw]
        out: list[Offer] = []
        for offer in offers[:500]:
            offer = self.resolve(offer)
            if isinstance(offer, dict) and id(offer) not in seen:
                # A variant listed under hasVariant is also walked on its own: count it once.
                seen.add(id(offer))
                out.extend(self._offer(offer, fields, product, in_list))
        return out

    def _offer(
        self, node: Mapping[str, Any], fields: Mapping[str, Any], product: int, in_list: bool
    ) -> list[Offer]:
        # AggregateOffer may carry the concrete offers; prefer them over lowPrice.
        nested = node.get("offers")
        if isinstance(nested, list | dict) and "aggregateoffer" in _types(node):
            items = nested if isinstance(nested, list) else [nested]
            out: list[Offer] = []
            for item in items[:500]:
                item = self.resolve(item)
                if isinstance(item, dict):
                    out.extend(self._offer(item, fields, product, in_list))
            if any(o.price is not None for o in out):
                return out
        hint = self.locale.decimal
        price = parse_structured_price(node.get("price"), hint)
        currency = normalize_currency(_text(node.get("priceCurrency")), self.locale)
        regular: Decimal | None = None
        is_range = False
        specs = self.resolve(node.get("priceSpecification"))
        for spec in specs if isinstance(specs, list) else [specs]:
            spec = self.resolve(spec)
            if not isinstance(spec, dict):
                continue
            value = parse_structured_price(spec.get("price"), hint)
            if value is None:
                value = parse_structured_price(spec.get("minPrice"), hint)
            if value is None:
                continue
            price_type = (_text(spec.get("priceType")) or "").rsplit("/", 1)[-1].lower()
            if price_type in _REGULAR_PRICE_TYPES:
                regular = value
            elif _is_unit_price(spec):
                continue
            elif price is None:
                price = value
            currency = currency or normalize_currency(_text(spec.get("priceCurrency")), self.locale)
        if price is None:
            low = parse_structured_price(node.get("lowPrice"), hint)
            if low is not None:
                price = low
                high = parse_structured_price(node.get("highPrice"), hint)
                is_range = high is not None and high != low
        zero = price is None and _is_zero(node.get("price"))
        if price is None and regular is None and not zero:
            return []
        if regular is not None and price is not None and regular <= price:
            regular = None
        ids = set(fields.get("ids", set()))
        for key in (*_ID_KEYS, "@id", "url"):
            ident = _text(node.get(key))
            if ident:
                ids.add(ident)
        item = self.resolve(node.get("itemOffered"))
        if isinstance(item, dict):
            ids |= self._product_fields(item)["ids"]
        return [
            Offer(
                price=price,
                currency=currency,
                availability=normalize_availability(node.get("availability")),
                regular_price=regular,
                source="json-ld",
                product=product,
                ids=ids,
                name=fields.get("name"),
                image=fields.get("image"),
                sku=fields.get("sku") or _text(node.get("sku")),
                gtin=fields.get("gtin"),
                brand=fields.get("brand"),
                in_list=in_list,
                is_range=is_range,
                zero=zero,
            )
        ]


def _is_zero(raw: Any) -> bool:
    if isinstance(raw, bool):
        return False
    if isinstance(raw, int | float):
        return raw == 0
    return isinstance(raw, str) and re.fullmatch(r"\s*0+(?:[.,]0+)?\s*", raw) is not None


def _is_unit_price(spec: Mapping[str, Any]) -> bool:
    """A UnitPriceSpecification per kg/litre is not the product's price."""
    quantity = spec.get("referenceQuantity")
    if isinstance(quantity, dict):
        value = quantity.get("value")
        return value not in (None, 1, "1", 1.0)
    return False


def jsonld_offers(blocks: Iterable[str], locale: Locale) -> list[Offer]:
    """All offers found in the page's JSON-LD blocks, in document order."""
    return _JsonLd(blocks, locale).offers()


def jsonld_names(blocks: Iterable[str]) -> list[str]:
    """Product names in JSON-LD (used to find the title on the page)."""
    names: list[str] = []
    for block in blocks:
        for match in re.finditer(r'"name"\s*:\s*"((?:[^"\\]|\\.){3,300})"', block):
            try:
                names.append(json.loads(f'"{match.group(1)}"'))
            except ValueError:
                continue
            if len(names) >= 10:
                return names
    return names


# ---------------------------------------------------------------------------------------------
# OpenGraph / product meta tags
# ---------------------------------------------------------------------------------------------

_META_PRICE = ("product:price:amount", "og:price:amount", "product:price", "og:price")
_META_SALE = ("product:sale_price:amount", "og:sale_price:amount")
_META_REGULAR = (
    "product:original_price:amount",
    "og:price:standard_amount",
    "product:regular_price:amount",
)
_META_CURRENCY = ("product:price:currency", "og:price:currency", "product:sale_price:currency")
_META_AVAILABILITY = ("product:availability", "og:availability")


def meta_offer(metas: Mapping[str, str], locale: Locale) -> Offer | None:
    """OpenGraph / Facebook product meta tags as one offer."""

    def first(keys: Iterable[str]) -> str | None:
        for key in keys:
            value = metas.get(key)
            if value:
                return value
        return None

    hint = locale.decimal
    raw_price = first(_META_SALE) or first(_META_PRICE)
    if raw_price is None:
        return None
    price, mark = parse_price_text(raw_price, hint)
    if price is None:
        return None
    currency = normalize_currency(first(_META_CURRENCY), locale) or normalize_currency(mark, locale)
    regular_raw = first(_META_REGULAR) or (first(_META_PRICE) if first(_META_SALE) else None)
    regular = parse_price_text(regular_raw, hint)[0] if regular_raw else None
    if regular is not None and regular <= price:
        regular = None
    return Offer(
        price=price,
        currency=currency,
        availability=normalize_availability(first(_META_AVAILABILITY)),
        regular_price=regular,
        source="opengraph",
    )


# ---------------------------------------------------------------------------------------------
# Microdata and RDFa (read from the DOM of the product window)
# ---------------------------------------------------------------------------------------------


def _prop_value(node: LexborNode) -> str | None:
    attrs = node.attributes
    for key in ("content", "value", "href", "resource", "datetime"):
        value = attrs.get(key)
        if value:
            return value
    text = node.text(deep=True, separator=" ", strip=True)
    return text[:200] if text else None


def _scope_of(node: LexborNode, attr: str) -> LexborNode | None:
    """Nearest ancestor carrying `itemscope` (microdata) or `typeof`/`vocab` (RDFa)."""
    parent = node.parent
    depth = 0
    while parent is not None and depth < 25:
        if parent.attributes.get(attr) is not None or attr in parent.attributes:
            return parent
        parent = parent.parent
        depth += 1
    return None


def _scope_prop(scope: LexborNode | None, selector: str) -> str | None:
    if scope is None:
        return None
    found = scope.css_first(selector)
    return _prop_value(found) if found is not None else None


def dom_offers(tree: LexborHTMLParser, locale: Locale, kind: str) -> list[tuple[Offer, int]]:
    """Offers from microdata (`kind="microdata"`) or RDFa (`kind="rdfa"`) with their DOM ids."""
    if kind == "microdata":
        selector = '[itemprop="price"], [itemprop="lowPrice"], [itemprop~="price"]'
        scope_attr = "itemscope"
        cur_sel = '[itemprop="priceCurrency"]'
        av_sel = '[itemprop="availability"]'
        name_sel = '[itemprop="name"]'
        id_sel = '[itemprop="sku"], [itemprop="productID"], [itemprop^="gtin"], [itemprop="mpn"]'
    else:
        selector = '[property="price"], [property$=":price"], [property="lowPrice"]'
        scope_attr = "typeof"
        cur_sel = '[property="priceCurrency"], [property$=":priceCurrency"]'
        av_sel = '[property="availability"], [property$=":availability"]'
        name_sel = '[property="name"], [property$=":name"]'
        id_sel = '[property="sku"], [property$=":sku"], [property="productID"]'
    out: list[tuple[Offer, int]] = []
    scopes: dict[int, int] = {}
    for node in tree.css(selector)[:200]:
        raw = _prop_value(node)
        if not raw:
            continue
        price, mark = parse_price_text(raw, locale.decimal)
        if price is None:
            continue
        scope = _scope_of(node, scope_attr)
        product_scope = _scope_of(scope, scope_attr) if scope is not None else None
        currency = normalize_currency(_scope_prop(scope, cur_sel), locale) or normalize_currency(
            mark, locale
        )
        ids: set[str] = set()
        for holder in (scope, product_scope):
            if holder is None:
                continue
            for id_node in holder.css(id_sel)[:5]:
                value = _prop_value(id_node)
                if value:
                    ids.add(value)
        key = (product_scope or scope or node).mem_id
        product = scopes.setdefault(key, len(scopes))
        out.append(
            (
                Offer(
                    price=price,
                    currency=currency,
                    availability=normalize_availability(_scope_prop(scope, av_sel)),
                    source=kind,
                    product=product,
                    ids=ids,
                    name=_scope_prop(product_scope, name_sel) or _scope_prop(scope, name_sel),
                ),
                node.mem_id,
            )
        )
    return out
