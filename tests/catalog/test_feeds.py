"""Tests for the streaming Google Merchant feed parser (pure: no database)."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricewatch.catalog import feeds
from pricewatch.catalog.feeds import (
    FeedError,
    FeedItem,
    RejectedItem,
    Shipping,
    count_items,
    latest_by_sku,
    parse_feed,
)
from tests.catalog.hostile import BILLION_LAUGHS, QUADRATIC_BLOWUP, passwd_line, xxe

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"
G = "http://base.google.com/ns/1.0"


def rss(*items: str, prolog: str = '<?xml version="1.0" encoding="UTF-8"?>\n') -> bytes:
    body = "\n".join(f"<item>{item}</item>" for item in items)
    return (
        f'{prolog}<rss version="2.0" xmlns:g="{G}"><channel><title>Shop</title>\n'
        f"{body}\n</channel></rss>\n"
    ).encode()


def fields(
    sku: str = "SKU-1", title: str = "Blue mug", price: str = "15.00 USD", **more: str
) -> str:
    """The children of one item; ``more`` adds g:<name> elements, None-valued ones omitted."""
    parts = {"id": sku, "title": title, "price": price, **more}
    return "".join(f"<g:{k}>{v}</g:{k}>" for k, v in parts.items() if v is not None)


def parse_all(source: object, **kwargs: object) -> list[FeedItem | RejectedItem]:
    return list(parse_feed(source, **kwargs))  # type: ignore[arg-type]


def only(source: object, **kwargs: object) -> FeedItem | RejectedItem:
    results = parse_all(source, **kwargs)
    assert len(results) == 1, results
    return results[0]


def valid(source: object, **kwargs: object) -> FeedItem:
    result = only(source, **kwargs)
    assert isinstance(result, FeedItem), result
    return result


def rejected(source: object, **kwargs: object) -> RejectedItem:
    result = only(source, **kwargs)
    assert isinstance(result, RejectedItem), result
    return result


def feed_error(source: object) -> FeedError:
    with pytest.raises(FeedError) as caught:
        parse_all(source)
    return caught.value


# --------------------------------------------------------------------------------------------
# Valid documents
# --------------------------------------------------------------------------------------------


def test_valid_rss_fixture_parses_every_attribute_kind() -> None:
    # given a realistic RSS 2.0 feed on disk
    path = FIXTURES / "rss_valid.xml"

    # when it is parsed
    tv, mug, sofa = parse_all(path)

    # then typed attributes are converted and normalised
    assert isinstance(tv, FeedItem)
    assert tv.sku == "TV-22LB4510"
    assert tv.line == 8
    assert tv.title == 'LG 22" LED TV <1080p> & more'  # CDATA kept verbatim
    assert tv.description == "Full HD & slim design <22 inch>"  # entities decoded, trimmed
    assert (tv.price, tv.currency) == (Decimal("199.99"), "AED")
    assert tv.sale_price == Decimal("149.50")
    assert tv.cost_of_goods_sold == Decimal("90.00")
    assert tv.availability == "in_stock"  # "in stock" with a space
    assert tv.link == "https://shop.example.com/tv/22LB4510.html"
    assert tv.mobile_link == "https://m.shop.example.com/tv/22LB4510.html"
    assert tv.image_link == "https://img.example.com/tv/22LB4510.jpg"
    assert tv.additional_image_links == (
        "https://img.example.com/tv/22LB4510-back.jpg",
        "https://img.example.com/tv/22LB4510-side.jpg",
    )
    assert tv.gtin == "8806084896254"  # spaces removed, check digit verified
    assert (tv.identifier_exists, tv.adult, tv.is_bundle) == (True, False, False)
    assert (tv.condition, tv.gender, tv.age_group) == ("new", "unisex", "adult")
    assert (tv.brand, tv.mpn, tv.color, tv.size, tv.material) == (
        "LG",
        "22LB4510",
        "Black",
        "22 in",
        "Plastic",
    )
    assert tv.multipack == 2
    assert tv.quantity == 12
    assert tv.product_types == ("Electronics > TVs > LED", "Sale > TVs")
    assert tv.category == "Electronics > TVs > LED"
    assert tv.google_product_category == "404"
    assert tv.custom_labels == ("summer", "", "", "", "clearance")
    assert tv.excluded_destinations == ("Shopping_ads",)
    assert tv.sale_price_effective_date == "2026-02-24T11:07+0100/2026-02-29T23:07+0100"
    # and shipping sub-elements become Shipping groups, free shipping included
    assert tv.shipping == (
        Shipping(
            country="AE",
            region="DU",
            service="Express",
            price=Decimal("15.00"),
            currency="AED",
            extra={"min_handling_time": "1"},
        ),
        Shipping(country="SA", price=Decimal("0"), currency="AED"),
    )
    # and attributes outside the typed set are kept
    assert tv.extra == {
        "tax": {"country": "AE", "rate": "5.00"},
        "energy_efficiency_class": "A+",
        "certification": ["EU_ECOLABEL", "EPREL"],
        "{http://purl.org/dc/elements/1.1/}creator": "catalog-bot",
    }

    # and plain RSS elements plus the colon shipping form are understood
    assert isinstance(mug, FeedItem)
    assert (mug.title, mug.link) == ("Plain RSS title", "https://shop.example.com/mug")
    assert mug.availability == "out_of_stock"
    assert mug.shipping == (
        Shipping(
            country="US", region="CA", service="Ground", price=Decimal("6.49"), currency="USD"
        ),
    )
    assert isinstance(sofa, FeedItem)
    assert (sofa.price, sofa.currency) == (Decimal("1299.00"), "EUR")
    assert sofa.identifier_exists is False  # "FALSE"
    assert sofa.availability == "preorder"
    assert sofa.category == ""


def test_valid_atom_fixture_uses_atom_spellings() -> None:
    # given an Atom 1.0 feed
    path = FIXTURES / "atom_valid.xml"

    # when it is parsed
    tv, hat = parse_all(path)

    # then <link href>, <summary> and <title> are used, rel="self" links ignored
    assert isinstance(tv, FeedItem)
    assert tv.sku == "TV_123456"  # g:id, not the Atom entry id
    assert tv.line == 6
    assert tv.link == "https://shop.example.com/tv/TV_123456.html"
    assert tv.description == "Attractively styled & <em>slim</em>."
    assert tv.condition == "used"
    assert tv.availability == "backorder"
    assert tv.extra["atom:id"] == "tag:shop.example.com,2026:products/TV_123456"
    assert tv.shipping[0].price == Decimal("14.95")
    # and g:-less attributes in the Atom namespace are tolerated
    assert isinstance(hat, FeedItem)
    assert (hat.price, hat.currency, hat.brand) == (Decimal("12.50"), "GBP", "Hatters")
    assert hat.availability == "in_stock"


def test_atom_without_namespace_and_old_cns_namespace_are_tolerated() -> None:
    # given an un-namespaced Atom feed using the old Google Base c: namespace
    doc = b"""<feed xmlns:c="http://base.google.com/cns/1.0">
      <entry><id>E1</id><title>Lamp</title><c:price>20 CHF</c:price>
        <c:my_custom>yes</c:my_custom></entry></feed>"""

    # when parsed
    item = valid(doc)

    # then c: attributes are read like g: ones, unknown ones land in extra
    assert (item.sku, item.price, item.currency) == ("E1", Decimal("20"), "CHF")
    assert item.extra == {"my_custom": "yes"}


def test_g_namespace_wins_over_unprefixed_duplicate() -> None:
    # given both an RSS <title> and a <g:title>
    doc = rss("<title>RSS title</title>" + fields(title="Google title"))

    # when parsed
    item = valid(doc)

    # then the g: value is used
    assert item.title == "Google title"


def test_whitespace_is_trimmed_and_empty_elements_count_as_absent() -> None:
    # given padded values and an empty optional element
    doc = rss(fields(sku="  A1\n", title="\n  Mug  ", brand="   ", sale_price=""))

    # when parsed
    item = valid(doc)

    # then
    assert (item.sku, item.title, item.brand, item.sale_price) == ("A1", "Mug", "", None)


def test_comments_and_processing_instructions_inside_items_are_ignored() -> None:
    doc = rss(fields() + "<!-- note --><?pi data?>")
    item = valid(doc)
    assert item.extra == {}


def test_stray_markup_inside_a_text_attribute_is_flattened() -> None:
    # given unescaped HTML in a description
    doc = rss(fields(description="Fits <b>all</b> cups"))

    # then its text is kept rather than cut at the first tag
    assert valid(doc).description == "Fits all cups"


def test_nested_item_is_part_of_its_parent_not_a_separate_product() -> None:
    doc = rss(fields() + "<g:bundle><item><g:id>INNER</g:id></item></g:bundle>")
    item = valid(doc)
    assert item.sku == "SKU-1"
    assert "bundle" in item.extra


@pytest.mark.parametrize(
    ("price", "amount", "currency"),
    [
        ("199.99 AED", "199.99", "AED"),
        ("15.00 USD", "15.00", "USD"),
        ("1,299.00 EUR", "1299.00", "EUR"),
        ("1,234,567 JPY", "1234567", "JPY"),
        ("USD 15.00", "15.00", "USD"),
        ("15 usd", "15", "USD"),
        ("0.5 GBP", "0.5", "GBP"),
        ("12.3400000 EUR", "12.3400000", "EUR"),
    ],
)
def test_price_formats(price: str, amount: str, currency: str) -> None:
    item = valid(rss(fields(price=price)))
    assert (item.price, item.currency) == (Decimal(amount), currency)


def test_default_currency_fills_in_a_missing_code() -> None:
    item = valid(rss(fields(price="15.00")), default_currency="usd")
    assert (item.price, item.currency) == (Decimal("15.00"), "USD")


def test_default_currency_must_be_iso_4217() -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        parse_all(rss(fields()), default_currency="ZZZ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("in_stock", "in_stock"),
        ("in stock", "in_stock"),
        ("In Stock", "in_stock"),
        ("out of stock", "out_of_stock"),
        ("out_of_stock", "out_of_stock"),
        ("preorder", "preorder"),
        ("backorder", "backorder"),
    ],
)
def test_availability_is_normalised(value: str, expected: str) -> None:
    assert valid(rss(fields(availability=value))).availability == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("yes", True), ("no", False), ("true", True), ("false", False), ("YES", True)],
)
def test_boolean_attributes(value: str, expected: bool) -> None:
    item = valid(rss(fields(identifier_exists=value, adult=value, is_bundle=value)))
    assert item.identifier_exists is expected
    assert item.adult is expected
    assert item.is_bundle is expected


def test_sell_on_google_quantity_is_the_quantity_fallback() -> None:
    assert valid(rss(fields(sell_on_google_quantity="7"))).quantity == 7
    both = valid(rss(fields(quantity="3", sell_on_google_quantity="7")))
    assert both.quantity == 3
    assert both.extra == {"sell_on_google_quantity": "7"}


def test_title_of_exactly_150_characters_is_accepted() -> None:
    assert len(valid(rss(fields(title="t" * 150))).title) == 150


def test_items_keep_their_start_tag_line() -> None:
    # given items far apart, beyond libxml2's 16-bit line counter
    doc = rss(fields(sku="A"), "\n" * 70_000 + "<g:id>B</g:id><g:title>x</g:title>")

    # when parsed
    first, second = parse_all(doc)

    # then each carries the line of its <item>
    assert first.line == 3
    assert second.line == 4
    assert isinstance(second, RejectedItem)  # no price


# --------------------------------------------------------------------------------------------
# Rejected items (the rest of the feed goes on)
# --------------------------------------------------------------------------------------------


def test_missing_required_attributes_are_named() -> None:
    # given an item with only a description, between two good ones
    doc = rss(fields(sku="A"), "<g:description>orphan</g:description>", fields(sku="C"))

    # when parsed
    a, bad, c = parse_all(doc)

    # then the bad one is rejected with every missing attribute, the others survive
    assert isinstance(a, FeedItem)
    assert isinstance(c, FeedItem)
    assert bad == RejectedItem(
        line=4, sku=None, reason="missing required attribute(s): id, title, price"
    )


@pytest.mark.parametrize("missing", ["sku", "title", "price"])
def test_each_required_attribute(missing: str) -> None:
    item = rejected(rss(fields(**{missing: None})))  # type: ignore[arg-type]
    name = "id" if missing == "sku" else missing
    assert item.reason == f"missing required attribute(s): {name}"


def test_a_10000_character_title_is_rejected() -> None:
    # given a title far beyond Google's 150 characters
    item = rejected(rss(fields(sku="LONG", title="x" * 10_000)))

    # then the reason names the attribute and the limit
    assert item.sku == "LONG"
    assert item.reason == "title: 10000 characters, the maximum is 150"


@pytest.mark.parametrize(
    ("attribute", "limit"),
    [("description", 5000), ("link", 2000), ("brand", 70), ("energy_label", 5000)],
)
def test_other_length_limits(attribute: str, limit: int) -> None:
    value = "https://e.com/" + "a" * limit if attribute == "link" else "a" * (limit + 1)
    item = rejected(rss(fields(**{attribute: value})))
    assert item.reason.startswith(f"{attribute}: ")
    assert f"{limit}" in item.reason


def test_an_id_over_50_characters_is_rejected() -> None:
    item = rejected(rss(fields(sku="S" * 51)))
    assert item.reason == "id: 51 characters, the maximum is 50"
    assert item.sku == "S" * 51


@pytest.mark.parametrize(
    ("price", "reason"),
    [
        ("-5.00 USD", "price: '-5.00 USD' is negative"),
        ("USD -5", "price: 'USD -5' is negative"),
        ("0 USD", "price: '0 USD' must be greater than zero"),
        ("0.00 EUR", "price: '0.00 EUR' must be greater than zero"),
        ("abc USD", "price: 'abc USD' is not a price (expected e.g. '15.00 USD')"),
        ("free", "price: 'free' is not a price (expected e.g. '15.00 USD')"),
        ("1e5 USD", "price: '1e5 USD' is not a price (expected e.g. '15.00 USD')"),
        ("NaN USD", "price: 'NaN USD' is not a price (expected e.g. '15.00 USD')"),
        ("15.00", "price: '15.00' has no ISO 4217 currency code"),
        ("15.00 ZZZ", "price: unknown currency 'ZZZ' (not ISO 4217)"),
        ("15.00 XAU", "price: currency XAU is not a circulating currency"),
        ("USD 15 EUR", "price: 'USD 15 EUR' has two currency codes"),
        ("12,5 EUR", "price: '12,5 EUR' has an ambiguous ','"),
        ("1.23456 USD", "price: '1.23456 USD' has more than 4 decimal places"),
        ("1234567890123 USD", "price: '1234567890123 USD' is implausibly large"),
    ],
)
def test_bad_prices_are_rejected_with_a_reason(price: str, reason: str) -> None:
    item = rejected(rss(fields(sku="P", price=price)))
    assert item.sku == "P"
    assert item.reason.startswith(reason)


def test_unknown_currency_is_rejected() -> None:
    item = rejected(rss(fields(price="199.99 ABC")))
    assert item.reason == "price: unknown currency 'ABC' (not ISO 4217)"


@pytest.mark.parametrize(
    ("sale_price", "reason"),
    [
        ("20.00 USD", "sale_price: 20.00 is higher than price 15.00"),
        ("10.00 EUR", "sale_price: currency EUR differs from price's USD"),
        ("-1 USD", "sale_price: '-1 USD' is negative"),
    ],
)
def test_bad_sale_prices(sale_price: str, reason: str) -> None:
    assert rejected(rss(fields(sale_price=sale_price))).reason == reason


def test_sale_price_without_currency_inherits_the_price_currency() -> None:
    assert valid(rss(fields(sale_price="9.99"))).sale_price == Decimal("9.99")


@pytest.mark.parametrize(
    "url",
    [
        "/products/1",
        "shop.example.com/p/1",
        "ftp://shop.example.com/p/1",
        "javascript:alert(1)",
        "http://",
        "https:///path",
        "https://shop example.com/p",
        "data:text/html,hi",
    ],
)
@pytest.mark.parametrize(
    "attribute", ["link", "image_link", "mobile_link", "additional_image_link"]
)
def test_invalid_urls_are_rejected(attribute: str, url: str) -> None:
    # given an item with a URL attribute that is not absolute http(s)
    doc = rss(fields(sku="U", **{attribute: url.replace("&", "&amp;")}))

    # when parsed
    item = rejected(doc)

    # then the attribute is named
    assert item.sku == "U"
    assert item.reason.startswith(f"{attribute}: ")
    assert "is not an absolute http(s) URL" in item.reason


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example.com",
        "HTTP://SHOP.EXAMPLE.COM/A?b=c&amp;d=e#f",
        "https://user@shop.example.com:8443/p",
        "http://[2001:db8::1]/p",
        "https://xn--bcher-kva.example/ä",
    ],
)
def test_valid_urls_are_accepted(url: str) -> None:
    assert valid(rss(fields(link=url))).link == url.replace("&amp;", "&")


def test_atom_link_with_a_relative_href_is_rejected() -> None:
    doc = b'<feed xmlns="http://www.w3.org/2005/Atom" xmlns:g="http://base.google.com/ns/1.0">'
    doc += b'<entry><g:id>A</g:id><title>T</title><g:price>1 USD</g:price><link href="/a"/>'
    doc += b"</entry></feed>"
    assert rejected(doc).reason.startswith("link: '/a'")


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"availability": "sold out"}, "availability: 'sold out' is not in_stock"),
        ({"identifier_exists": "maybe"}, "identifier_exists: 'maybe' is not yes/no"),
        ({"condition": "broken"}, "condition: 'broken' is not one of new, refurbished, used"),
        ({"gender": "x"}, "gender: 'x' is not one of female, male, unisex"),
        ({"age_group": "teen"}, "age_group: 'teen' is not one of"),
        ({"gtin": "4006381333932"}, "gtin: 4006381333932 has a wrong check digit"),
        ({"gtin": "12345"}, "gtin: '12345' is not an 8/12/13/14-digit GTIN"),
        ({"quantity": "-1"}, "quantity: '-1' is not a whole number"),
        ({"quantity": "2.5"}, "quantity: '2.5' is not a whole number"),
        ({"multipack": "0"}, "multipack: 0 is less than 1"),
        ({"shipping": "<g:country>USA</g:country>"}, "shipping #1: country 'USA' is not"),
        ({"shipping": "<g:country>US</g:country><g:price>x</g:price>"}, "shipping #1 price:"),
        ({"shipping": "US:5 USD"}, "shipping #1: 'US:5 USD' is not 'country:region"),
    ],
)
def test_invalid_typed_attributes_are_rejected(extra: dict[str, str], reason: str) -> None:
    assert rejected(rss(fields(**extra))).reason.startswith(reason)


def test_gtin_with_dashes_and_several_values() -> None:
    item = valid(rss(fields(gtin="400-6381-333931, 96385074")))
    assert item.gtin == "4006381333931,96385074"


def test_duplicate_skus_are_all_yielded_and_last_wins_helper() -> None:
    # given the same sku twice with different prices, and a rejected third copy
    doc = rss(
        fields(sku="DUP", price="10 USD"),
        fields(sku="OTHER"),
        fields(sku="DUP", price="12 USD"),
        fields(sku="DUP", price="oops"),
    )

    # when parsed
    results = parse_all(doc)

    # then every occurrence is yielded in order
    assert [r.sku for r in results] == ["DUP", "OTHER", "DUP", "DUP"]
    # and the importer's rule keeps the last *valid* one
    latest = latest_by_sku(results)
    assert list(latest) == ["OTHER", "DUP"]
    assert latest["DUP"].price == Decimal("12")


def test_oversized_item_is_rejected_and_parsing_continues() -> None:
    # given an item with ~2 MiB of children, then a normal one
    junk = "<g:note>x</g:note>" * 120_000
    doc = rss(fields(sku="BIG") + junk, fields(sku="OK"))

    # when parsed
    big, ok = parse_all(doc)

    # then
    assert isinstance(big, RejectedItem)
    assert big.reason.startswith("item is larger than")
    assert isinstance(ok, FeedItem)


# --------------------------------------------------------------------------------------------
# Unusable documents
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"   \n\t  "])
def test_empty_document(content: bytes) -> None:
    error = feed_error(content)
    assert error.message == "empty document"


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\x01\x02\xff\xfe garbage \x89PNG\r\n",
        b"this is not XML at all",
        b'{"items": [{"id": 1}]}',
        b"id,title,price\n1,Mug,15 USD\n",
    ],
)
def test_not_xml(content: bytes) -> None:
    error = feed_error(content)
    assert error.message.startswith("not well-formed XML: ")
    assert error.line == 1
    assert error.column is not None


def test_binary_garbage_from_os_urandom_like_bytes() -> None:
    data = bytes(range(256)) * 50
    assert isinstance(feed_error(data), FeedError)


@pytest.mark.parametrize(
    ("doc", "root", "line"),
    [
        (b"<html><body><item><id>1</id></item></body></html>", "html", 1),
        (b'<?xml version="1.0"?>\n<products><item/></products>', "products", 2),
        (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', "RDF", 1),
    ],
)
def test_wrong_root_element(doc: bytes, root: str, line: int) -> None:
    error = feed_error(doc)
    assert error.message == f"root element is <{root}>, expected <rss> (RSS 2.0) or <feed> (Atom)"
    assert error.line == line


def test_root_element_must_start_within_the_first_mebibyte() -> None:
    doc = b"<!--" + b"x" * (2 * 1024 * 1024) + b"-->" + rss(fields())
    assert feed_error(doc).message == "no root element in the first 1 MiB: not a product feed"


def test_truncated_document_raises_after_yielding_complete_items() -> None:
    # given a feed cut off in the middle of its third item
    doc = rss(fields(sku="A"), fields(sku="B"), fields(sku="C"))
    cut = doc[: doc.index(b"<g:id>C")]

    # when consumed
    seen: list[str | None] = []
    with pytest.raises(FeedError) as caught:
        for item in parse_feed(cut):
            seen.append(item.sku)

    # then the complete items came first, then the error with a position
    assert seen == ["A", "B"]
    assert caught.value.message.startswith("truncated or malformed document: ")
    assert caught.value.line is not None
    assert caught.value.column is not None


def test_syntax_error_in_the_middle_reports_line_and_column() -> None:
    doc = rss(fields(sku="A"), "<g:id>B</g:title>")
    with pytest.raises(FeedError) as caught:
        parse_all(doc)
    assert caught.value.line == 4
    assert "line 4, column" in str(caught.value)


@pytest.mark.parametrize(
    "doc",
    [
        # declared UTF-8, encoded Latin-1
        '<?xml version="1.0" encoding="UTF-8"?><rss><channel><item><g:title>Café</g:title>'
        "</item></channel></rss>".encode("latin-1"),
        # an encoding that does not exist
        b'<?xml version="1.0" encoding="klingon-8"?><rss/>',
        # declared UTF-16 without being UTF-16
        b'<?xml version="1.0" encoding="UTF-16"?><rss/>',
    ],
)
def test_wrong_declared_encoding(doc: bytes) -> None:
    error = feed_error(doc)
    assert error.line == 1
    assert error.column is not None


def test_correctly_declared_other_encodings_work() -> None:
    latin = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>'
        f'<rss xmlns:g="{G}"><channel><item>{fields(title="Café")}</item></channel></rss>'
    ).encode("latin-1")
    utf16 = rss(fields(title="Café"), prolog='<?xml version="1.0" encoding="UTF-16"?>')
    utf16 = utf16.decode().encode("utf-16")
    assert valid(latin).title == "Café"
    assert valid(utf16).title == "Café"


def test_feed_error_str_includes_position() -> None:
    assert str(FeedError("boom", 3, 7)) == "boom (line 3, column 7)"
    assert str(FeedError("boom", 3)) == "boom (line 3)"
    assert str(FeedError("boom")) == "boom"


# --------------------------------------------------------------------------------------------
# Security: DTDs, entities, external resources
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc",
    [BILLION_LAUGHS, QUADRATIC_BLOWUP, xxe("file:///etc/passwd")],
    ids=["billion-laughs", "quadratic-blowup", "xxe-file"],
)
def test_entity_attacks_are_refused_as_dtd(doc: bytes) -> None:
    # when a document with an internal DTD subset is parsed
    error = feed_error(doc)

    # then nothing is expanded: the DTD itself is refused
    assert "DTDs are not allowed" in error.message
    assert error.line == 1


def test_xxe_never_reads_local_files_even_behind_a_long_prolog() -> None:
    # given a DOCTYPE hidden behind a comment longer than the first read chunk, so that only
    # libxml2's own view of the document can notice it
    marker = passwd_line()
    prolog = '<?xml version="1.0"?>\n<!--' + "x" * 300_000 + "-->\n"
    doc = xxe("file:///etc/passwd", prolog=prolog)

    # when parsed
    with pytest.raises(FeedError) as caught:
        results = parse_all(doc)
        # (not reached; kept so a regression shows what leaked)
        assert marker not in repr(results)

    # then the DTD is refused and the file content appears nowhere
    assert "DTDs are not allowed" in caught.value.message
    assert marker not in str(caught.value)


def test_parameter_entities_and_utf16_doctypes_are_refused() -> None:
    doc = (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        '<!DOCTYPE rss [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><rss/>'
    ).encode("utf-16")
    error = feed_error(doc)
    assert "DTDs are not allowed" in error.message
    assert passwd_line() not in str(error)


@pytest.mark.parametrize("prolog", ["", "<!--" + "x" * 300_000 + "-->"], ids=["short", "long"])
@pytest.mark.parametrize("kind", ["external-dtd", "external-entity", "parameter-entity"])
def test_nothing_is_fetched_over_the_network(
    kind: str, prolog: str, http_server: tuple[str, list[str]]
) -> None:
    # given documents pointing at a live local server; the long prolog hides the DOCTYPE
    # from the byte pre-check so that libxml2 itself parses the DTD
    base, requests = http_server
    docs = {
        "external-dtd": f'<!DOCTYPE rss SYSTEM "{base}/evil.dtd"><rss><channel/></rss>',
        "external-entity": xxe(f"{base}/entity", prolog="").decode(),
        "parameter-entity": f'<!DOCTYPE rss [<!ENTITY % p SYSTEM "{base}/p"> %p;]><rss/>',
    }

    # when parsed
    error = feed_error((prolog + docs[kind]).encode())

    # then the document is refused and the server never saw a request
    assert "DTDs are not allowed" in error.message
    assert requests == []
    assert "pwned" not in str(error)


def test_undeclared_entity_without_dtd_is_a_feed_error() -> None:
    error = feed_error(rss(fields(title="&xxe;")))
    assert "xxe" in error.message


def test_xinclude_is_not_processed() -> None:
    # given an XInclude pointing at a local file
    doc = rss(
        fields() + '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
        'href="file:///etc/passwd" parse="text"/>'
    )

    # then it stays an inert (empty) element
    item = valid(doc)
    assert passwd_line() not in repr(item)


def test_doctype_text_inside_cdata_is_just_text() -> None:
    doc = rss(fields(description="<![CDATA[<!DOCTYPE html><p>hi</p>]]>"))
    assert valid(doc).description == "<!DOCTYPE html><p>hi</p>"


# --------------------------------------------------------------------------------------------
# Sources, count_items, internals
# --------------------------------------------------------------------------------------------


def test_sources_path_str_bytes_and_binary_file(tmp_path: Path) -> None:
    doc = rss(fields())
    path = tmp_path / "feed.xml"
    path.write_bytes(doc)
    for source in (path, str(path), doc, io.BytesIO(doc)):
        assert valid(source).sku == "SKU-1"


def test_text_mode_file_is_a_programming_error(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(rss(fields()))
    with path.open(encoding="utf-8") as text_file, pytest.raises(TypeError, match="binary"):
        parse_all(text_file)


def test_count_items_counts_rss_items_and_atom_entries(tmp_path: Path) -> None:
    assert count_items(FIXTURES / "rss_valid.xml") == 3
    assert count_items(FIXTURES / "atom_valid.xml") == 2
    assert count_items(rss(*[fields(sku=str(n)) for n in range(250)])) == 250


def test_count_items_across_read_boundaries_and_rewinds_file_objects() -> None:
    # given more than one 1 MiB read worth of items
    doc = rss(*[fields(sku=str(n), description="d" * 500) for n in range(5_000)])
    stream = io.BytesIO(doc)
    stream.seek(0)

    # when counted
    count = count_items(stream)

    # then every item is counted once, and the stream can still be parsed
    assert count == 5_000
    assert stream.tell() == 0
    assert sum(1 for _ in parse_feed(stream)) == 5_000


def test_every_single_valued_attribute_has_a_converter() -> None:
    # Guards the dispatch tables: an attribute without one would raise KeyError mid-feed.
    handled = set(feeds._PLAIN_FIELDS) | set(feeds._HANDLERS) | {"id", "title", "price"}
    assert set(feeds._SIMPLE_ATTRS) == handled


def test_currency_list_is_sane() -> None:
    assert {"USD", "EUR", "AED", "JPY", "GBP", "CHF", "SAR", "INR"} <= feeds.CURRENCIES
    assert not {"XAU", "XTS", "XXX", "ABC"} & feeds.CURRENCIES
    assert all(len(code) == 3 and code.isupper() for code in feeds.CURRENCIES)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _consume(data: bytes) -> None:
    try:
        for result in parse_feed(data):
            assert isinstance(result, (FeedItem, RejectedItem))
    except FeedError:
        pass


@_SETTINGS
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_raise_only_feed_error(data: bytes) -> None:
    _consume(data)


_SEED = rss(
    fields(sku="A", sale_price="10 USD", link="https://e.com/a", gtin="4006381333931"),
    fields(sku="B", shipping="<g:country>US</g:country><g:price>1 USD</g:price>"),
)


@_SETTINGS
@given(st.data())
def test_mutated_valid_feeds_raise_only_feed_error(data: st.DataObject) -> None:
    # given a valid feed with a few bytes overwritten, inserted or deleted
    doc = bytearray(_SEED)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(doc) - 1))
        action = data.draw(st.sampled_from(["replace", "insert", "delete"]))
        if action == "delete":
            del doc[position]
        else:
            payload = data.draw(st.binary(min_size=1, max_size=8))
            doc[position : position + (len(payload) if action == "replace" else 0)] = payload

    # then the parser yields items/rejections or raises FeedError, nothing else
    _consume(bytes(doc))


@_SETTINGS
@given(st.text(max_size=300))
def test_arbitrary_attribute_text_never_crashes(text: str) -> None:
    # given any text (XML-escaped) in every kind of attribute
    escaped = text.replace("&", "&amp;").replace("<", "&lt;")
    names = ["title", "price", "sale_price", "link", "gtin", "availability", "quantity"]
    doc_text = rss(fields(**{name: escaped for name in names if name != "title"}))

    # then the outcome is an item, a rejection, or (for XML-illegal characters) FeedError
    _consume(doc_text)


@pytest.mark.parametrize("batch_size", [1, 3, 1000])
def test_an_atom_items_digest_does_not_depend_on_where_it_stands(batch_size: int) -> None:
    # given Atom entries in the default namespace, once as they are and once with another
    # entry in front (which shifts every batch and chunk boundary)
    atom = "http://www.w3.org/2005/Atom"

    def feed(*skus: str) -> bytes:
        entries = "".join(
            f"<entry><title>T {sku}</title><g:id>{sku}</g:id><g:price>1 EUR</g:price>"
            f"<summary>{'x' * 3000}</summary></entry>\n"
            for sku in skus
        )
        return f'<feed xmlns="{atom}" xmlns:g="{G}">{entries}</feed>'.encode()

    def digests(doc: bytes) -> dict[str, str]:
        return {
            item.sku: item.digest
            for batch in feeds.parse_feed_batches(doc, batch_size=batch_size)
            for item in batch
            if isinstance(item, FeedItem)
        }

    skus = [f"S{n}" for n in range(120)]
    plain = digests(feed(*skus))
    shifted = digests(feed("NEW", *skus))

    # then every entry has the same digest in both
    assert {sku: shifted[sku] for sku in skus} == plain


def test_a_batch_of_large_items_ends_before_its_item_count(monkeypatch: pytest.MonkeyPatch) -> None:
    # given items of ~10 KB and a byte budget of about three of them per batch
    monkeypatch.setattr(feeds, "BATCH_BYTES", 30_000)
    doc = rss(*(fields(sku=f"S{n}", description="x" * 10_000) for n in range(10)))

    # when parsed in batches of up to 1,000 items
    batches = list(feeds.parse_feed_batches(doc, batch_size=1000))

    # then every batch held at most three items' worth of XML, and nothing was lost
    assert [len(batch) for batch in batches] == [3, 3, 3, 1]
    assert [item.sku for batch in batches for item in batch] == [f"S{n}" for n in range(10)]


def test_an_items_line_past_65535_is_where_it_starts() -> None:
    # given an item far down whose first child's text spans lines (libxml2 reports such an
    # item at the line where that text ends)
    doc = (
        f'<rss xmlns:g="{G}"><channel>' + "\n" * 65_540 + "<item><g:title>a\nb\nc</g:title>"
        "<g:id>FAR</g:id><g:price>1 USD</g:price></item>\n</channel></rss>"
    ).encode()

    # then the report line is that of the item's start tag
    assert valid(doc).line == doc.count(b"\n", 0, doc.index(b"<item")) + 1 == 65_541
