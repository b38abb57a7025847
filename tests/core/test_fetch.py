"""Tests for pricewatch.core.fetch against real local HTTP servers (127.0.0.1 only).

No mocking of httpx or of the fetcher: every test talks to ``tests.core.shop_server``. Addresses
that must be refused are refused before any packet is sent (IP literals are checked before
connecting, host names are resolved by our own backend and checked before connecting), and the
proxy tests use a local proxy that answers by itself, so nothing leaves the loopback interface.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import ipaddress
import itertools
import socket
import ssl
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricewatch.core.fetch import (
    AddressPolicy,
    FetchConfig,
    Fetcher,
    FetchError,
    FetchResult,
    GuardedNetworkBackend,
    fetch_sync,
    forbidden_reason,
    parse_retry_after,
)
from tests.core import shop_server as s
from tests.core.shop_server import ShopServer

LOCAL = ("127.0.0.1/32",)  # the test servers, and nothing else on loopback


def cfg(**overrides: Any) -> FetchConfig:
    base: dict[str, Any] = {
        "allow_networks": LOCAL,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "total_timeout": 5.0,
        "retries": 2,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "per_host_min_delay": 0.0,
        "per_host_concurrency": 4,
    }
    base.update(overrides)
    return FetchConfig(**base)


def fetch(url: str, *, resolver: Any = None, render: bool = False, **overrides: Any) -> FetchResult:
    async def run() -> FetchResult:
        async with Fetcher(cfg(**overrides), resolver=resolver) as fetcher:
            return await fetcher.fetch(url, render=render)

    return asyncio.run(run())


def fetch_error(url: str, **kwargs: Any) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch(url, **kwargs)
    return info.value


def static_resolver(table: dict[str, list[str]]) -> Any:
    """A resolver for made-up host names, so no test depends on (or sends) real DNS."""

    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "unknown test host")
        return table[host]

    return resolve


ROUTES: dict[str, s.Route] = {
    "/page": s.page,
    "/latin1": s.latin1_page,
    "/gzip": s.gzip_page,
    "/deflate": s.deflate_page,
    "/bomb": s.gzip_bomb,
    "/empty": s.empty,
    "/binary": s.binary,
    "/missing": s.not_found,
    "/busy": s.always_503,
    "/flaky": s.flaky_500,
    "/ratelimited": s.rate_limited_once,
    "/ratelimited-long": s.rate_limited_long,
    "/chain/1": s.redirect_chain,
    "/chain/2": s.redirect_chain,
    "/chain/3": s.redirect_chain,
    "/loop": s.redirect_to("/loop"),
    "/to-metadata": s.redirect_to("http://169.254.169.254/latest/meta-data/"),
    "/to-private": s.redirect_to("http://10.0.0.1/admin"),
    "/to-file": s.redirect_to("file:///etc/passwd"),
    "/to-internal-name": s.redirect_to("http://internal.test/"),
    "/cookie": s.set_cookie_then_redirect,
    "/trickle": s.trickle,
    "/stall": s.stall,
    "/huge": s.huge_streamed,
    "/huge-declared": s.huge_declared,
    "/slow": s.slow_page,
    "/echo": s.echo_headers,
}


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopServer]:
    with ShopServer(ROUTES) as server:
        yield server


@pytest.fixture
def fresh_shop() -> Iterator[ShopServer]:
    """A per-test server, for tests that count requests or need their own robots.txt."""
    with ShopServer(ROUTES) as server:
        yield server


# ------------------------------------------------------------------------------ happy paths


def test_plain_page(shop: ShopServer) -> None:
    result = fetch(shop.url("/page"))
    assert result.status_code == 200
    assert result.body == s.PAGE
    assert result.final_url == shop.url("/page")
    assert result.encoding == "utf-8"
    assert result.content_type == "text/html; charset=utf-8"
    assert result.http_version == "HTTP/1.1"
    assert result.bytes_received == len(s.PAGE)
    assert not result.rendered
    assert [(a.status_code, a.error_class) for a in result.attempts] == [(200, None)]


def test_browser_like_headers(fresh_shop: ShopServer) -> None:
    fetch(fresh_shop.url("/page"), accept_language="de-DE,de;q=0.9")
    headers = fresh_shop.requests_to("/page")[0].headers
    assert "Chrome/" in headers["user-agent"] and "Windows NT" in headers["user-agent"]
    assert headers["accept"].startswith("text/html,application/xhtml+xml")
    assert headers["accept-language"] == "de-DE,de;q=0.9"
    assert "gzip" in headers["accept-encoding"] and "deflate" in headers["accept-encoding"]
    if (
        importlib.util.find_spec("brotli") is None
        and importlib.util.find_spec("brotlicffi") is None
    ):
        assert "br" not in headers["accept-encoding"]  # never advertise what we cannot decode
    assert headers["sec-fetch-mode"] == "navigate"

    result = fetch(fresh_shop.url("/echo"), user_agent="PriceBot/1.0")
    assert result.body == b"ok PriceBot/1.0"


def test_connection_is_reused(fresh_shop: ShopServer) -> None:
    async def run() -> None:
        async with Fetcher(cfg()) as fetcher:
            for _ in range(3):
                await fetcher.fetch(fresh_shop.url("/page"))

    asyncio.run(run())
    assert len(fresh_shop.requests_to("/page")) == 3
    assert len({r.client_port for r in fresh_shop.log}) == 1  # one keep-alive connection


@pytest.mark.parametrize("path", ["/gzip", "/deflate"])
def test_decompression(shop: ShopServer, path: str) -> None:
    result = fetch(shop.url(path))
    assert result.body == s.PAGE * 50
    assert result.headers["content-encoding"] in {"gzip", "deflate"}
    assert result.bytes_received < len(result.body)  # wire bytes, before decompression


def test_declared_encoding_is_exposed_not_applied(shop: ShopServer) -> None:
    result = fetch(shop.url("/latin1"))
    assert result.encoding == "windows-1252"
    assert result.body.decode(result.encoding) == "<p>Preis: 9,99 \u20ac caf\xe9</p>"


def test_binary_body_untouched(shop: ShopServer) -> None:
    result = fetch(shop.url("/binary"))
    assert result.body == s.BINARY
    assert result.encoding is None


def test_redirect_chain_followed_hop_by_hop(shop: ShopServer) -> None:
    result = fetch(shop.url("/chain/3"))
    assert result.final_url == shop.url("/page")
    assert result.body == s.PAGE
    assert [a.status_code for a in result.attempts] == [301, 301, 301, 200]
    assert result.attempts[0].url == shop.url("/chain/3")


def test_cookies_survive_redirect_hops(shop: ShopServer) -> None:
    result = fetch(shop.url("/cookie"))
    assert result.body == s.PAGE
    assert [a.status_code for a in result.attempts] == [302, 200]


def test_fetch_sync(shop: ShopServer) -> None:
    result = fetch_sync(shop.url("/page"), cfg())
    assert result.body == s.PAGE


# --------------------------------------------------------------------------- errors & limits


def test_too_many_redirects_on_loop(shop: ShopServer) -> None:
    error = fetch_error(shop.url("/loop"), max_redirects=3)
    assert error.code == "too_many_redirects"
    assert "loop" in error.message
    assert not error.retryable
    assert [a.status_code for a in error.attempts] == [302] * 4


def test_huge_streamed_body_stops_at_limit(shop: ShopServer) -> None:
    error = fetch_error(shop.url("/huge"), max_body_bytes=200_000)
    assert error.code == "too_large"
    assert not error.retryable
    assert len(error.attempts) == 1  # never retried
    assert error.attempts[0].bytes < 2_000_000  # stopped early, not the whole 13 MB


def test_huge_declared_body_refused_up_front(shop: ShopServer) -> None:
    error = fetch_error(shop.url("/huge-declared"), max_body_bytes=100_000)
    assert error.code == "too_large"
    assert "50000000" in error.message


def test_decompression_bomb_hits_the_limit(shop: ShopServer) -> None:
    error = fetch_error(shop.url("/bomb"), max_body_bytes=100_000)
    assert error.code == "too_large"


def test_empty_body(shop: ShopServer) -> None:
    error = fetch_error(shop.url("/empty"))
    assert error.code == "empty_body"
    assert error.retryable
    assert len(error.attempts) == 1


def test_404_is_not_retried(fresh_shop: ShopServer) -> None:
    error = fetch_error(fresh_shop.url("/missing"))
    assert error.code == "http_error"
    assert error.status == 404
    assert not error.retryable
    assert len(error.attempts) == 1
    assert fresh_shop.state.hits["/missing"] == 1


def test_500_then_200_is_retried(fresh_shop: ShopServer) -> None:
    result = fetch(fresh_shop.url("/flaky"))
    assert result.body == s.PAGE
    assert [a.status_code for a in result.attempts] == [500, 200]


def test_persistent_503_gives_up_after_retries(fresh_shop: ShopServer) -> None:
    error = fetch_error(fresh_shop.url("/busy"), retries=2)
    assert error.code == "http_error"
    assert error.status == 503
    assert error.retryable
    assert [a.status_code for a in error.attempts] == [503, 503, 503]


def test_429_honours_retry_after_seconds(fresh_shop: ShopServer) -> None:
    started = time.monotonic()
    result = fetch(fresh_shop.url("/ratelimited"))
    assert time.monotonic() - started >= 0.9  # waited the 1 s the server asked for
    assert [a.status_code for a in result.attempts] == [429, 200]
    first, second = fresh_shop.requests_to("/ratelimited")
    assert second.arrived - first.arrived >= 0.9


def test_retry_after_beyond_cap_is_reported_not_waited(fresh_shop: ShopServer) -> None:
    started = time.monotonic()
    error = fetch_error(fresh_shop.url("/ratelimited-long"), retry_after_max=5)
    assert time.monotonic() - started < 2
    assert error.code == "http_error" and error.status == 429
    assert error.retryable and error.retry_after == 86400
    assert len(error.attempts) == 1


def test_parse_retry_after() -> None:
    now = dt.datetime(2026, 11, 21, 12, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after(" 7 ") == 7
    assert parse_retry_after("Sat, 21 Nov 2026 12:01:30 GMT", now=now) == 90
    assert parse_retry_after("Sat, 21 Nov 2026 11:00:00 GMT", now=now) == 0  # in the past
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_trickling_page_hits_total_timeout(shop: ShopServer) -> None:
    started = time.monotonic()
    error = fetch_error(shop.url("/trickle"), total_timeout=0.7, read_timeout=5, retries=0)
    assert time.monotonic() - started < 3
    assert error.code == "timeout"
    assert error.retryable
    assert error.attempts[0].error_class == "timeout"
    assert error.attempts[0].status_code == 200  # headers came, the body never finished


def test_stalled_body_hits_read_timeout_and_is_retried(shop: ShopServer) -> None:
    error = fetch_error(shop.url("/stall"), read_timeout=0.3, retries=1)
    assert error.code == "timeout"
    assert [a.error_class for a in error.attempts] == ["timeout", "timeout"]


def test_connection_refused_is_network_error_and_retried() -> None:
    with socket.socket() as sock:  # find a free port, then close it: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = fetch_error(f"http://127.0.0.1:{port}/page", retries=2, respect_robots=False)
    assert error.code == "network_error"
    assert error.retryable
    assert [a.error_class for a in error.attempts] == ["network_error"] * 3


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("javascript:alert(1)", "bad_scheme"),
        ("file:///etc/passwd", "bad_scheme"),
        ("ftp://example.com/file", "bad_scheme"),
        ("data:text/html,<h1>hi</h1>", "bad_scheme"),
        ("gopher://example.com/", "bad_scheme"),
        ("http://user:secret@127.0.0.1/", "bad_url"),
        ("example.com/no-scheme", "bad_url"),
        ("http:///no-host", "bad_url"),
    ],
)
def test_bad_urls_refused(url: str, code: str) -> None:
    error = fetch_error(url)
    assert error.code == code
    assert not error.retryable
    assert error.attempts == []


# -------------------------------------------------------------------------------- SSRF guard


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",  # the live test server: must not be reached without the allow-list
        "[::1]",
        "0.0.0.0",
        "localhost",  # a host name resolving to loopback, caught at connect time
        "[::ffff:127.0.0.1]",  # IPv4-mapped loopback
        "2130706433",  # 127.0.0.1 written as a decimal number
    ],
)
def test_loopback_refused_without_allow_list(fresh_shop: ShopServer, host: str) -> None:
    url = f"http://{host}:{fresh_shop.port}/page"
    for robots in (True, False):  # via the robots.txt fetch and via the page fetch itself
        error = fetch_error(url, allow_networks=(), respect_robots=robots)
        assert error.code == "blocked_address", error
        assert not error.retryable
    assert fresh_shop.log == []  # not a single request arrived


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://192.168.1.1/router",
        "http://172.16.5.4/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://224.0.0.1/",  # multicast
        "http://[fd00::1]/",  # unique local
        "http://[fe80::1]/",  # link-local
        "http://[::ffff:10.0.0.1]/",  # IPv4-mapped private
        "http://[2002:a00:1::]/",  # 6to4 wrapping 10.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 wrapping 169.254.169.254
    ],
)
def test_private_literals_refused_before_any_traffic(url: str) -> None:
    # IP literals are refused by check_url, before robots.txt or any connection.
    error = fetch_error(url, allow_networks=())
    assert error.code == "blocked_address"
    assert error.attempts == []


def test_hostname_resolving_to_forbidden_address_refused_at_connect() -> None:
    resolver = static_resolver({"metadata.test": ["169.254.169.254"]})
    error = fetch_error("http://metadata.test/", resolver=resolver, respect_robots=False)
    assert error.code == "blocked_address"
    assert "169.254.169.254" in error.message
    assert error.attempts[0].error_class == "blocked_address"


def test_hostname_with_any_forbidden_address_is_refused(fresh_shop: ShopServer) -> None:
    # The first address is an allowed one (the test server), but the name also resolves to a
    # private address: refuse the whole name rather than guess.
    resolver = static_resolver({"mixed.test": ["127.0.0.1", "10.0.0.1"]})
    error = fetch_error(f"http://mixed.test:{fresh_shop.port}/page", resolver=resolver)
    assert error.code == "blocked_address"
    assert fresh_shop.log == []


def test_connects_to_validated_ip_but_keeps_host_header(fresh_shop: ShopServer) -> None:
    resolver = static_resolver({"shop.test": ["127.0.0.1"]})
    result = fetch(f"http://shop.test:{fresh_shop.port}/page", resolver=resolver)
    assert result.body == s.PAGE
    assert fresh_shop.requests_to("/page")[0].headers["host"] == f"shop.test:{fresh_shop.port}"


def test_every_new_connection_is_revalidated(fresh_shop: ShopServer) -> None:
    # DNS rebinding: the name first points at an allowed address, then at a forbidden one.
    answers = [["127.0.0.1"], ["127.0.0.2"]]

    async def rebinding(host: str, port: int) -> list[str]:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    url = f"http://rebind.test:{fresh_shop.port}/page"
    assert fetch(url, resolver=rebinding, respect_robots=False).body == s.PAGE
    error = fetch_error(url, resolver=rebinding, respect_robots=False)
    assert error.code == "blocked_address" and "127.0.0.2" in error.message
    assert len(fresh_shop.log) == 1


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/to-metadata", "blocked_address"),
        ("/to-private", "blocked_address"),
        ("/to-internal-name", "blocked_address"),
        ("/to-file", "bad_scheme"),
    ],
)
def test_redirects_are_checked_on_every_hop(shop: ShopServer, path: str, code: str) -> None:
    resolver = static_resolver({"internal.test": ["127.0.0.5"], "127.0.0.1": ["127.0.0.1"]})
    error = fetch_error(shop.url(path), resolver=resolver)
    assert error.code == code
    assert error.attempts[0].status_code == 302
    assert not error.retryable


def test_guarded_backend_refuses_directly() -> None:
    backend = GuardedNetworkBackend(AddressPolicy(()))

    async def run() -> None:
        await backend.connect_tcp("localhost", 80, timeout=1)

    with pytest.raises(FetchError) as info:
        asyncio.run(run())
    assert info.value.code == "blocked_address"


PRIVATE_V4 = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "0.0.0.0/8",
    "100.64.0.0/10",
    "224.0.0.0/4",
    "240.0.0.0/4",
]


@given(
    st.sampled_from(PRIVATE_V4).flatmap(
        lambda net: st.integers(0, ipaddress.ip_network(net).num_addresses - 1).map(
            lambda i: ipaddress.ip_network(net)[i]
        )
    )
)
def test_private_ipv4_and_its_ipv6_wrappings_are_forbidden(ip: ipaddress.IPv4Address) -> None:
    assert forbidden_reason(ip)
    assert forbidden_reason(ipaddress.IPv6Address(f"::ffff:{ip}"))
    assert forbidden_reason(ipaddress.IPv6Address((0x2002 << 112) | (int(ip) << 80)))


@pytest.mark.parametrize("addr", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_allowed(addr: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(addr)) is None


def test_allow_list_is_narrow() -> None:
    policy = AddressPolicy(["127.0.0.1/32", "intranet.example"])
    assert policy.reason(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.reason(ipaddress.ip_address("::ffff:127.0.0.1")) is None
    assert policy.reason(ipaddress.ip_address("127.0.0.2")) == "loopback address"
    assert policy.host_allowed("Intranet.Example.")


# ------------------------------------------------------------------------------- robots.txt


def test_robots_disallow_and_caching(fresh_shop: ShopServer) -> None:
    fresh_shop.state.routes["/robots.txt"] = s.robots_disallow_private
    fresh_shop.state.routes["/private"] = s.page

    async def run(agent: str) -> list[str]:
        outcomes = []
        async with Fetcher(cfg(robots_agent=agent)) as fetcher:
            for path in ("/page", "/private", "/private/item?x=1", "/page"):
                try:
                    await fetcher.fetch(fresh_shop.url(path))
                    outcomes.append("ok")
                except FetchError as error:
                    assert not error.retryable and "robots.txt" in error.message
                    outcomes.append(error.code)
        return outcomes

    blocked = "robots_disallowed"
    assert asyncio.run(run("pricewatch")) == ["ok", blocked, blocked, "ok"]
    assert fresh_shop.state.hits["/robots.txt"] == 1  # fetched once, then cached
    assert fresh_shop.state.hits["/private"] == 0
    # A group naming our agent applies instead of "*".
    assert asyncio.run(run("otherbot")) == [blocked] * 4


def test_robots_can_be_ignored_globally_or_per_domain(fresh_shop: ShopServer) -> None:
    fresh_shop.state.routes["/robots.txt"] = s.robots_disallow_private
    fresh_shop.state.routes["/private"] = s.page
    url = fresh_shop.url("/private")
    assert fetch(url, respect_robots=False).body == s.PAGE
    assert fetch(url, robots_overrides={"127.0.0.1": False}).body == s.PAGE
    error = fetch_error(url, respect_robots=False, robots_overrides={"127.0.0.1": True})
    assert error.code == "robots_disallowed"


def test_robots_ttl_expiry_refetches(fresh_shop: ShopServer) -> None:
    async def run() -> None:
        async with Fetcher(cfg(robots_ttl=0)) as fetcher:
            await fetcher.fetch(fresh_shop.url("/page"))
            await fetcher.fetch(fresh_shop.url("/page"))

    asyncio.run(run())
    assert fresh_shop.state.hits["/robots.txt"] == 2


@pytest.mark.parametrize("robots", [s.not_found, s.robots_500])
def test_missing_or_broken_robots_allows(fresh_shop: ShopServer, robots: s.Route) -> None:
    fresh_shop.state.routes["/robots.txt"] = robots
    assert fetch(fresh_shop.url("/page")).body == s.PAGE


# ------------------------------------------------------------------------------- politeness


def test_per_host_min_delay_between_starts(fresh_shop: ShopServer) -> None:
    async def run() -> None:
        async with Fetcher(cfg(per_host_min_delay=0.2, respect_robots=False)) as fetcher:
            await asyncio.gather(*(fetcher.fetch(fresh_shop.url("/page")) for _ in range(4)))

    asyncio.run(run())
    starts = sorted(r.arrived for r in fresh_shop.log)
    assert len(starts) == 4
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.15, gaps  # 0.2 s configured; generous margin


def test_per_host_concurrency_limit(fresh_shop: ShopServer) -> None:
    async def run() -> None:
        async with Fetcher(cfg(per_host_concurrency=1, respect_robots=False)) as fetcher:
            await asyncio.gather(*(fetcher.fetch(fresh_shop.url("/slow")) for _ in range(3)))

    asyncio.run(run())
    assert fresh_shop.state.hits["/slow"] == 3
    assert fresh_shop.state.max_in_flight == 1


# ----------------------------------------------------------------------------------- proxies


def proxy_answer(h: s.ShopHandler) -> None:
    h.reply(200, b"via proxy " + h.path.encode())


def test_domain_and_global_proxies() -> None:
    # Targets are 127.0.0.2-4 (loopback, never contacted: the proxies answer themselves).
    with (
        ShopServer(fallback=proxy_answer) as global_proxy,
        ShopServer(fallback=proxy_answer) as shop_proxy,
    ):
        config: dict[str, Any] = {
            "allow_networks": ("127.0.0.2/32", "127.0.0.4/32"),  # proxies themselves are trusted
            "proxy": global_proxy.url(""),
            "domain_proxies": {"127.0.0.2": shop_proxy.url("")},
            "respect_robots": False,
        }
        result = fetch("http://127.0.0.2:8080/item?id=1", **config)
        assert result.body == b"via proxy http://127.0.0.2:8080/item?id=1"
        assert shop_proxy.log[0].requestline == "GET http://127.0.0.2:8080/item?id=1 HTTP/1.1"

        result = fetch("http://127.0.0.4:8080/other", **config)
        assert result.body == b"via proxy http://127.0.0.4:8080/other"
        assert len(global_proxy.log) == 1

        # The proxy would connect for us, so the target is checked before handing it over.
        error = fetch_error("http://127.0.0.3:8080/", **config)
        assert error.code == "blocked_address"
        resolver = static_resolver({"evil.test": ["10.1.2.3"]})
        error = fetch_error("http://evil.test/", resolver=resolver, **config)
        assert error.code == "blocked_address"
        error = fetch_error("http://nowhere.test/", resolver=resolver, retries=0, **config)
        assert error.code == "network_error" and "nowhere.test" in error.message
        assert len(global_proxy.log) == 1 and len(shop_proxy.log) == 1


# -------------------------------------------------------------------------------------- TLS


def _self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shop.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("shop.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = tmp_path / "cert.pem"
    key_file = tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    context.set_alpn_protocols(["http/1.1"])
    return context, cert_file


def test_tls_by_validated_ip_keeps_sni_and_verifies_certificate(tmp_path: Path) -> None:
    context, cert_file = _self_signed(tmp_path)
    resolver = static_resolver({"shop.test": ["127.0.0.1"]})
    with ShopServer(ROUTES, tls=context) as tls_shop:
        url = tls_shop.url("/page", host="shop.test")
        result = fetch(url, resolver=resolver, ca_file=str(cert_file))
        assert result.body == s.PAGE
        assert tls_shop.state.sni_names and set(tls_shop.state.sni_names) == {"shop.test"}
        # Without our CA the certificate is rejected: verification really happens.
        error = fetch_error(url, resolver=resolver, retries=0, respect_robots=False)
        assert error.code == "network_error"


def test_http2_negotiated_through_guarded_backend(tmp_path: Path) -> None:
    pytest.importorskip("h2")
    context, cert_file = _self_signed(tmp_path)
    resolver = static_resolver({"shop.test": ["127.0.0.1"]})

    async def run() -> list[FetchResult]:
        config = cfg(ca_file=str(cert_file), respect_robots=False)
        async with Fetcher(config, resolver=resolver) as fetcher:
            return [await fetcher.fetch(h2_shop.url(f"/p{i}", host="shop.test")) for i in (1, 2)]

    with s.H2Server(context) as h2_shop:
        results = asyncio.run(run())
    assert [r.http_version for r in results] == ["HTTP/2", "HTTP/2"]
    assert all(r.body == s.PAGE for r in results)
    assert h2_shop.requests[0][":authority"] == f"shop.test:{h2_shop.port}"
    assert h2_shop.requests[0]["user-agent"].startswith("Mozilla/5.0")


# -------------------------------------------------------------------------------- rendering

needs_browser = pytest.mark.skipif(
    importlib.util.find_spec("playwright") is None or not Path("/usr/bin/chromium").exists(),
    reason="JavaScript rendering needs the playwright package and /usr/bin/chromium",
)

JS_PAGE = b"""<html><body><p id=price>loading</p><p id=xhr>pending</p><script>
document.getElementById('price').textContent = 'rendered 42.00';
fetch('http://10.0.0.1/steal').then(() => 'reached', () => 'blocked')
  .then(t => { document.getElementById('xhr').textContent = t; });
</script></body></html>"""


def js_page(h: s.ShopHandler) -> None:
    h.reply(200, JS_PAGE)


@needs_browser
@pytest.mark.browser
def test_render_runs_javascript_and_guards_browser_requests(fresh_shop: ShopServer) -> None:
    # One test (one browser start) covering rendering, redirects and the guard inside Chromium.
    fresh_shop.state.routes["/js"] = js_page
    fresh_shop.state.routes["/to-js"] = s.redirect_to("/js")
    resolver = static_resolver({"127.0.0.1": ["127.0.0.1"], "internal.test": ["127.0.0.7"]})

    async def run() -> tuple[FetchResult, FetchResult, FetchError]:
        config = cfg(js_domains={"127.0.0.1"}, total_timeout=15)
        async with Fetcher(config, resolver=resolver) as fetcher:
            first = await fetcher.fetch(fresh_shop.url("/to-js"))  # rendered via js_domains
            second = await fetcher.fetch(fresh_shop.url("/page"), render=True)
            with pytest.raises(FetchError) as refused:
                await fetcher.fetch(f"http://internal.test:{fresh_shop.port}/", render=True)
            return first, second, refused.value

    first, second, refused = asyncio.run(run())
    assert first.rendered and first.final_url == fresh_shop.url("/js")
    assert b"rendered 42.00" in first.body
    assert b'<p id="xhr">blocked</p>' in first.body  # the page's XHR to 10.0.0.1 was refused
    assert [a.status_code for a in first.attempts] == [302, 200]
    assert first.encoding == "utf-8"
    assert b"19.99 EUR" in second.body
    assert refused.code == "blocked_address"  # main document on a forbidden address
    assert {r.path for r in fresh_shop.log} == {"/robots.txt", "/to-js", "/js", "/page"}


def test_render_without_playwright_is_a_clear_error(
    shop: ShopServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "playwright.async_api", None)  # makes the import fail
    error = fetch_error(shop.url("/page"), render=True)
    assert error.code == "render_unavailable"
    assert "playwright" in error.message and "Chromium" in error.message


# ------------------------------------------------------------------- host:port allow entries


def test_endpoint_allow_entries_open_one_port_only() -> None:
    # given an allow list of single endpoints (what the embedded default does for the demo shop)
    policy = AddressPolicy(["127.0.0.1:8001", "[::1]:8002", "Localhost:8003"])
    loopback = ipaddress.ip_address("127.0.0.1")
    # then only the listed port of the listed address is allowed
    assert policy.reason(loopback, 8001) is None
    assert policy.reason(ipaddress.ip_address("::ffff:127.0.0.1"), 8001) is None
    assert policy.reason(loopback, 8002) == "loopback address"
    assert policy.reason(loopback) == "loopback address"  # no port known: not allowed
    assert policy.reason(ipaddress.ip_address("127.0.0.2"), 8001) == "loopback address"
    assert policy.reason(ipaddress.ip_address("::1"), 8002) is None
    assert policy.reason(ipaddress.ip_address("::1"), 8001) == "loopback address"
    assert policy.host_allowed("localhost", 8003)
    assert not policy.host_allowed("localhost", 8001)
    assert not policy.host_allowed("localhost")


def test_endpoint_allow_entry_with_an_impossible_port_is_refused() -> None:
    with pytest.raises(ValueError, match="port"):
        AddressPolicy(["127.0.0.1:70000"])


def test_bare_ipv6_addresses_are_not_mistaken_for_endpoints() -> None:
    # "::1" and "fd00::8001" are addresses (whole networks of one), not host:port pairs
    policy = AddressPolicy(["::1", "fd00::8001"])
    assert policy.reason(ipaddress.ip_address("::1"), 443) is None
    assert policy.reason(ipaddress.ip_address("fd00::8001")) is None
    assert policy.reason(ipaddress.ip_address("fd00::"), 8001) is not None


def test_endpoint_allow_entry_lets_that_server_in_and_no_other_port(fresh_shop: ShopServer) -> None:
    # given two local servers, only the first allowed by host:port
    with ShopServer(ROUTES) as other:
        allow = (f"127.0.0.1:{fresh_shop.port}",)
        fresh_shop.state.routes["/to-other"] = s.redirect_to(other.url("/page"))
        # when fetching from each
        ok = fetch(fresh_shop.url("/page"), allow_networks=allow)
        refused = fetch_error(other.url("/page"), allow_networks=allow)
        redirected = fetch_error(fresh_shop.url("/to-other"), allow_networks=allow)
        # then the allowed endpoint answers; the other port is never contacted, not even
        # through a redirect
        assert ok.status_code == 200
        assert refused.code == redirected.code == "blocked_address"
        assert "127.0.0.1: it is a loopback address" in refused.message
        assert other.log == []


def test_a_name_resolving_to_an_allowed_endpoint_is_judged_by_its_address(
    fresh_shop: ShopServer,
) -> None:
    allow = (f"127.0.0.1:{fresh_shop.port}",)
    resolver = static_resolver({"shop.test": ["127.0.0.1"], "other.test": ["127.0.0.2"]})
    ok = fetch(f"http://shop.test:{fresh_shop.port}/page", allow_networks=allow, resolver=resolver)
    refused = fetch_error(
        f"http://other.test:{fresh_shop.port}/page", allow_networks=allow, resolver=resolver
    )
    assert ok.status_code == 200
    assert refused.code == "blocked_address" and "127.0.0.2" in refused.message


def test_endpoint_allowed_host_name_resolves_to_loopback(fresh_shop: ShopServer) -> None:
    # given "shop.test:PORT" allowed, resolving to loopback
    resolver = static_resolver({"shop.test": ["127.0.0.1"]})
    allow = (f"shop.test:{fresh_shop.port}",)
    # then that name on that port is fetched, and the same name on another port is refused
    ok = fetch(f"http://shop.test:{fresh_shop.port}/page", allow_networks=allow, resolver=resolver)
    assert ok.status_code == 200
    refused = fetch_error(
        f"http://shop.test:{fresh_shop.port + 1}/page", allow_networks=allow, resolver=resolver
    )
    assert refused.code == "blocked_address"


def test_concurrent_fetches_share_a_bounded_set_of_reused_connections(
    fresh_shop: ShopServer,
) -> None:
    # given three rounds of 12 concurrent fetches, 4 at a time per host
    async def run() -> list[FetchResult]:
        async with Fetcher(cfg(per_host_concurrency=4, respect_robots=False)) as fetcher:
            results: list[FetchResult] = []
            for _ in range(3):
                round_ = [fetcher.fetch(fresh_shop.url(f"/slow?i={i}")) for i in range(12)]
                results += await asyncio.gather(*round_)
            return results

    results = asyncio.run(run())
    # then all succeed, and the pool reused its connections instead of opening new ones
    assert [r.status_code for r in results] == [200] * 36
    assert len({r.client_port for r in fresh_shop.log}) == 4
