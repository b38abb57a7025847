"""Product URL normalisation: one spelling per page; bad input refused with a clear reason."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricewatch.tracking.normalize import (
    MAX_URL_LENGTH,
    TRACKING_PARAMETERS,
    InvalidURL,
    is_tracking_parameter,
    normalize_url,
    url_host,
    url_port,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("HTTPS://Shop.Example/p/1", "https://shop.example/p/1"),
        ("https://shop.example:443/p/1", "https://shop.example/p/1"),
        ("http://shop.example:80/p/1", "http://shop.example/p/1"),
        ("http://shop.example:8080/p/1", "http://shop.example:8080/p/1"),
        ("https://shop.example:80/p/1", "https://shop.example:80/p/1"),
        ("https://shop.example", "https://shop.example/"),
        ("https://shop.example.:443/", "https://shop.example/"),
        ("  https://shop.example/p/1  ", "https://shop.example/p/1"),
        ("shop.example/p/1", "https://shop.example/p/1"),
        ("www.shop.example/p?id=3", "https://www.shop.example/p?id=3"),
        ("https://shop.example/P/Case-Kept", "https://shop.example/P/Case-Kept"),
        ("https://shop.example/p/1#reviews", "https://shop.example/p/1"),
        ("https://shop.example/#/product/5", "https://shop.example/#/product/5"),
        ("https://shop.example/#!/product/5", "https://shop.example/#!/product/5"),
        ("https://bücher.example/buch", "https://xn--bcher-kva.example/buch"),
        ("https://shop.example/a b", "https://shop.example/a%20b"),
        ("https://shop.example/caf%C3%A9", "https://shop.example/caf%C3%A9"),
        ("http://10.0.0.5/", "http://10.0.0.5/"),
        ("http://[::1]:80/x", "http://[::1]/x"),
        ("http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080/x"),
        ("https://shop.example/p?", "https://shop.example/p"),
    ],
)
def test_normalises_scheme_host_port_path_and_fragment(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "https://shop.example/p?utm_source=news&utm_medium=mail&size=M&gclid=abc",
            "https://shop.example/p?size=M",
        ),
        ("https://shop.example/p?fbclid=1&msclkid=2&mc_cid=3&mc_eid=4", "https://shop.example/p"),
        ("https://shop.example/p?_ga=1&ref=home&ref_=nav&spm=a.b.c", "https://shop.example/p"),
        ("https://shop.example/p?UTM_Campaign=x&Color=Red", "https://shop.example/p?Color=Red"),
        ("https://shop.example/p?srsltid=AfmBOo&sku=123", "https://shop.example/p?sku=123"),
        # variant selectors and anything unknown are kept, sorted by name
        (
            "https://shop.example/p?variant=42&colour=blue&size=L&pid=9&id=3",
            "https://shop.example/p?colour=blue&id=3&pid=9&size=L&variant=42",
        ),
        # repeated names keep their order; encodings are left as they were
        ("https://shop.example/p?c=2&a=x%20y&c=1", "https://shop.example/p?a=x%20y&c=2&c=1"),
        ("https://shop.example/p?q=a+b&&flag", "https://shop.example/p?flag&q=a+b"),
        ("https://shop.example/p?=orphan&x=1", "https://shop.example/p?x=1"),
    ],
)
def test_drops_tracking_parameters_and_keeps_and_sorts_the_rest(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


def test_the_documented_list_names_the_common_trackers() -> None:
    for name in ("gclid", "fbclid", "msclkid", "mc_cid", "mc_eid", "_ga", "ref", "ref_", "spm"):
        assert name in TRACKING_PARAMETERS
    assert is_tracking_parameter("utm_whatever")
    assert is_tracking_parameter("pk_campaign")
    for name in ("variant", "size", "color", "colour", "sku", "id", "pid", "page"):
        assert not is_tracking_parameter(name)


def test_spellings_of_one_page_normalise_to_the_same_url() -> None:
    spellings = [
        "https://shop.example/p/1?size=M&color=red",
        "HTTPS://SHOP.EXAMPLE:443/p/1?color=red&size=M&utm_source=x",
        "shop.example/p/1?gclid=1&color=red&size=M#top",
    ]
    assert len({normalize_url(url) for url in spellings}) == 1


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "Enter the product page's URL."),
        ("   ", "Enter the product page's URL."),
        ("hello world", "is not a URL"),
        ("just-a-word", "is not a URL"),
        ("javascript:alert(1)", "not 'javascript:' URLs"),
        ("JavaScript:alert(1)", "not 'javascript:' URLs"),
        ("file:///etc/passwd", "not 'file:' URLs"),
        ("ftp://ftp.example/file", "not 'ftp:' URLs"),
        ("data:text/html,<b>hi</b>", "not 'data:' URLs"),
        ("mailto:ann@example.com", "not 'mailto:' URLs"),
        ("https:shop.example/p", "is not a URL"),
        ("https://user:secret@shop.example/p", "user name or password"),
        ("https://user@shop.example/p", "user name or password"),
        ("https://", "has no host name"),
        ("https://shop/p", "not a valid host name"),
        ("https://-bad-.example/", "not a valid host name"),
        ("https://sh op.example/", "not a valid host name"),
        ("http://127.1/", "not a valid host name or IP address"),
        ("http://2130706433/", "not a valid host name"),
        ("https://shop.example:99999/", "not a valid URL"),
        ("https://shop.example:0/", "Port 0"),
        ("https://shop.example:abc/", "not a valid URL"),
        ("https://[fe80::1%25eth0]/", "not a valid"),
        ("https://shop.example/\x00", "control characters"),
        ("https://shop.example/" + "a" * MAX_URL_LENGTH, "too long"),
        ("https://shop.example/" + "a" * 10_000, "too long"),
    ],
)
def test_refuses_what_cannot_be_tracked_with_a_reason(given: str, message: str) -> None:
    with pytest.raises(InvalidURL) as raised:
        normalize_url(given)
    assert message in str(raised.value)


def test_refuses_what_is_not_text() -> None:
    with pytest.raises(InvalidURL):
        normalize_url(None)  # type: ignore[arg-type]


def test_host_and_port_of_a_normalised_url() -> None:
    assert url_host("http://[::1]:8080/x") == "::1"
    assert url_port("http://[::1]:8080/x") == 8080
    assert url_port("https://shop.example/") == 443
    assert url_port("http://shop.example/") == 80


_label = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)
_name = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
_value = st.from_regex(r"[A-Za-z0-9]{0,6}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(
    host=st.lists(_label, min_size=2, max_size=3).map(".".join),
    path=st.lists(_label, max_size=3).map(lambda parts: "/" + "/".join(parts)),
    params=st.lists(st.tuples(_name, _value), max_size=5),
    noise=st.lists(st.sampled_from(["utm_source", "gclid", "fbclid", "_ga", "ref"]), max_size=3),
    fragment=st.sampled_from(["", "#top", "#reviews"]),
)
def test_normalising_is_idempotent_and_keeps_every_non_tracking_parameter(
    host: str,
    path: str,
    params: list[tuple[str, str]],
    noise: list[str],
    fragment: str,
) -> None:
    pairs = [f"{name}={value}" for name, value in params]
    pairs += [f"{name}=x" for name in noise]
    url = f"HTTPS://{host.upper()}:443{path}?{'&'.join(pairs)}{fragment}"

    normalized = normalize_url(url)

    assert normalize_url(normalized) == normalized
    assert normalized.startswith(f"https://{host}/")
    assert "#" not in normalized
    kept = [f"{name}={value}" for name, value in params if not is_tracking_parameter(name)]
    query = normalized.partition("?")[2]
    assert sorted(query.split("&") if query else []) == sorted(kept)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_normalised_or_refused_never_crashes(text: str) -> None:
    try:
        normalized = normalize_url(text)
    except InvalidURL as exc:
        assert str(exc)
    else:
        assert normalized.startswith(("http://", "https://"))
        assert len(normalized) <= MAX_URL_LENGTH
        assert normalize_url(normalized) == normalized
