"""Outbound HTTP fetcher for shop pages, free of Django (configured by `FetchConfig`).

One pooled HTTP/2 `httpx.AsyncClient` per `Fetcher`; redirects followed hop by hop, each hop
re-validated and recorded as an `Attempt`. The SSRF guard lives in the connection backend: it
resolves the host itself, refuses any non-public address and connects to the address it checked,
so DNS rebinding cannot slip between check and connect, and every connection (redirects,
robots.txt, the browser's sub-requests) passes it. Proxied requests are checked before the proxy.
Retries with backoff and `Retry-After`; per-host concurrency and delay; robots.txt cached per
origin; optional Chromium rendering whose requests all go through this client.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.message
import email.utils
import importlib.util
import ipaddress
import random
import socket
import ssl
import sys
import time
import urllib.robotparser
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import httpcore
import httpx

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright, Route, WebSocketRoute

# httpcore tries `import sniffio` (optional, not installed here) every time it creates a lock
# or semaphore, about fifteen times per request. A failed import is not cached, so each try
# searches sys.path again: ~5 ms of CPU per fetched page. Recording the absence once makes
# the failing import instant; httpcore then assumes asyncio, which is what we run.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

__all__ = [
    "DEFAULT_USER_AGENT",
    "AddressPolicy",
    "Attempt",
    "BadSchemeError",
    "BadURLError",
    "BlockedAddressError",
    "DecodeError",
    "EmptyBodyError",
    "FetchConfig",
    "FetchError",
    "FetchResult",
    "FetchTimeoutError",
    "Fetcher",
    "GuardedNetworkBackend",
    "HttpStatusError",
    "NetworkError",
    "ProxyFetchError",
    "RenderError",
    "RenderUnavailableError",
    "Resolver",
    "RobotsDisallowedError",
    "TooLargeError",
    "TooManyRedirectsError",
    "fetch_sync",
    "match_domain",
    "parse_retry_after",
    "system_resolver",
]

# Desktop Chrome on Windows is the most common real-world browser profile, so it blends in best.
# Chrome "reduced" User-Agent strings only carry the major version.
CHROME_MAJOR_VERSION = 156
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    f"Chrome/{CHROME_MAJOR_VERSION}.0.0.0 Safari/537.36"
)
# What Chrome sends for a top-level navigation.
DEFAULT_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
DEFAULT_ACCEPT_LANGUAGE = "en-US,en;q=0.9"

CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--dns-prefetch-disable",
    # Every request the page makes is intercepted and performed by our guarded client. Traffic
    # that escapes interception (e.g. <link rel=preconnect>) must not reach the network
    # directly, so it is sent to a dead local proxy port, loopback included ("<-loopback>"
    # removes Chromium's implicit localhost bypass).
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
)

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_RETRY_CODES = frozenset({"timeout", "network_error", "proxy_error"})
_ALLOWED_SCHEMES = frozenset({"http", "https"})
# robots.txt: RFC 9309 asks parsers to handle at least 500 KiB; anything beyond is ignored.
_ROBOTS_MAX_BYTES = 512 * 1024
# A failed robots.txt fetch (5xx, unreachable) is cached only briefly so that an outage does not
# switch a shop to "allow all" for a whole TTL.
_ROBOTS_FAILURE_TTL = 300.0
_KEPT_RESPONSE_HEADERS = frozenset(
    {
        "age",
        "cache-control",
        "content-encoding",
        "content-language",
        "content-length",
        "content-type",
        "date",
        "etag",
        "expires",
        "last-modified",
        "retry-after",
        "server",
        "vary",
        "x-cache",
    }
)
# Headers that describe the wire encoding of a response; they are wrong once httpx has decoded
# the body, so they are not passed on to the browser.
_HOP_HEADERS = frozenset(
    {
        "connection",
        "content-encoding",
        "content-length",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
    }
)
_DRAIN_MAX_BYTES = 64 * 1024
_NO_CACHE_HEADERS: Mapping[str, str] = {"Cache-Control": "no-cache", "Pragma": "no-cache"}
_BROWSER_SKIPPED_RESOURCES = frozenset({"image", "media", "font"})


def _accept_encoding() -> str:
    # Only advertise what httpx can decode here: it decodes br when brotli(cffi) is importable.
    encodings = ["gzip", "deflate"]
    if any(importlib.util.find_spec(name) for name in ("brotli", "brotlicffi")):
        encodings.append("br")
    return ", ".join(encodings)


# --------------------------------------------------------------------------------------------
# Configuration and results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchConfig:
    """Fetcher settings. Durations are seconds, sizes are bytes.

    Timeouts: ``connect_timeout`` bounds connection set-up, ``read_timeout`` the wait for each
    chunk, ``total_timeout`` one whole attempt (connect, headers and body streaming), so a page
    that trickles forever still ends. Retries and their back-off come on top, bounded by
    ``retries``, ``backoff_max`` and ``retry_after_max``.

    Domain keys (``robots_overrides``, ``domain_proxies``, ``js_domains``) match the domain
    itself and its sub-domains; the most specific entry wins.
    """

    user_agent: str = DEFAULT_USER_AGENT
    accept_language: str = DEFAULT_ACCEPT_LANGUAGE
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 45.0
    max_body_bytes: int = 5_000_000
    max_redirects: int = 5
    retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    # A Retry-After longer than this is not waited for: we stop and report it (the caller can
    # reschedule) instead of hammering a server that asked us to stay away.
    retry_after_max: float = 120.0
    per_host_concurrency: int = 2
    per_host_min_delay: float = 1.0
    respect_robots: bool = True
    # domain -> respect robots.txt (True) or ignore it (False) for that domain.
    robots_overrides: Mapping[str, bool] = field(default_factory=dict)
    robots_ttl: float = 3600.0
    # Product token matched against robots.txt "User-agent:" lines (plus "*").
    robots_agent: str = "pricewatch"
    proxy: str | None = None
    domain_proxies: Mapping[str, str] = field(default_factory=dict)
    js_domains: Collection[str] = frozenset()
    chromium_path: str = "/usr/bin/chromium"
    # CIDRs, host names and/or ``host:port`` endpoints that may be reached even though they
    # are not public (intranet shops, local test servers). An endpoint (``127.0.0.1:8001``,
    # ``[::1]:8001``, ``localhost:8001``) opens that one port only; IPv6 needs the brackets.
    allow_networks: tuple[str, ...] = ()
    # CA bundle to verify TLS against instead of certifi's (intranet CAs, tests).
    ca_file: str | None = None
    extra_headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be positive")
        if self.per_host_concurrency < 1:
            raise ValueError("per_host_concurrency must be at least 1")
        for name in ("max_redirects", "retries", "backoff_base", "backoff_max", "robots_ttl"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.per_host_min_delay < 0 or self.retry_after_max < 0:
            raise ValueError("delays must not be negative")
        for name in ("js_domains", "allow_networks"):
            if isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a collection of strings, not one string")
        for proxy in (self.proxy, *self.domain_proxies.values()):
            if proxy is not None and httpx.URL(proxy).scheme not in _ALLOWED_SCHEMES:
                # SOCKS would need the optional socksio dependency; keep the surface small.
                raise ValueError(f"only http:// and https:// proxies are supported: {proxy!r}")


@dataclass(frozen=True)
class Attempt:
    """One HTTP exchange (a retry or a redirect hop). ``error_class`` is a FetchError code."""

    url: str
    status_code: int | None
    error_class: str | None
    duration: float
    bytes: int


@dataclass(frozen=True)
class FetchResult:
    url: str
    final_url: str
    status_code: int
    headers: dict[str, str]
    body: bytes
    # Charset declared in Content-Type (None if absent); decoding is left to the caller.
    encoding: str | None
    elapsed: float
    # Bytes on the wire for the final response (before decompression).
    bytes_received: int
    attempts: list[Attempt]
    http_version: str
    rendered: bool = False

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class FetchError(Exception):
    """Base class. ``code`` is stable (stored by the tracker); the message is for people."""

    code: ClassVar[str] = "fetch_error"
    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        attempts: list[Attempt] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.status = status
        self.retryable = self.default_retryable if retryable is None else retryable
        self.retry_after = retry_after
        self.attempts: list[Attempt] = list(attempts or [])

    def __str__(self) -> str:
        return self.message


class BlockedAddressError(FetchError):
    code = "blocked_address"


class BadSchemeError(FetchError):
    code = "bad_scheme"


class BadURLError(FetchError):
    code = "bad_url"


class TooLargeError(FetchError):
    code = "too_large"


class FetchTimeoutError(FetchError):
    code = "timeout"
    default_retryable = True


class TooManyRedirectsError(FetchError):
    code = "too_many_redirects"


class RobotsDisallowedError(FetchError):
    code = "robots_disallowed"


class HttpStatusError(FetchError):
    code = "http_error"


class NetworkError(FetchError):
    code = "network_error"
    default_retryable = True


class ProxyFetchError(FetchError):
    code = "proxy_error"
    default_retryable = True


class EmptyBodyError(FetchError):
    code = "empty_body"
    # Usually a transient hiccup of the shop or its CDN: worth checking again later.
    default_retryable = True


class DecodeError(FetchError):
    code = "decode_error"


class RenderUnavailableError(FetchError):
    code = "render_unavailable"


class RenderError(FetchError):
    code = "render_error"
    default_retryable = True


# --------------------------------------------------------------------------------------------
# SSRF guard
# --------------------------------------------------------------------------------------------

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


async def system_resolver(host: str, port: int) -> list[str]:
    """All addresses the OS resolver returns for ``host``, in order, without duplicates."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _normalise_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _parse_endpoint(value: str) -> tuple[str, int] | None:
    """``host:port`` / ``[v6]:port`` as (host, port), or None if ``value`` is no endpoint."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        return None  # a bare IPv6 address, not host:port
    number = int(port)
    if not 0 < number < 65536:
        raise ValueError(f"allow_networks: {value!r} has no valid port")
    return host.strip("[]"), number


def _parse_ip(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(_normalise_host(value))
    except ValueError:
        return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address tunnels to (mapped, 6to4, Teredo, NAT64)."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be contacted, in plain words, or None if it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            # ::ffff:a.b.c.d *is* a.b.c.d to the kernel: judge the IPv4 address alone.
            inner = forbidden_reason(ip.ipv4_mapped)
            return f"{inner} (IPv4-mapped)" if inner else None
        for embedded in _embedded_ipv4(ip):
            inner = forbidden_reason(embedded)
            if inner:
                return f"{inner} (embedded in an IPv6 address)"
    # Explicit checks first for a precise message; ``is_global`` catches everything else that
    # is not publicly routable (shared address space 100.64/10, benchmarking, docs ranges...).
    checks: tuple[tuple[bool, str], ...] = (
        (ip.is_unspecified, "unspecified address"),
        (ip.is_loopback, "loopback address"),
        (ip.is_link_local, "link-local address (cloud metadata lives here)"),
        (ip.is_multicast, "multicast address"),
        (ip.is_private, "private network address"),
        (ip.is_reserved, "reserved address"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "site-local address"),
        (not ip.is_global, "non-public address"),
    )
    for failed, reason in checks:
        if failed:
            return reason
    return None


class AddressPolicy:
    """Decides which destinations may be contacted; resolves and checks host names.

    ``allow`` entries are CIDRs (``10.1.0.0/16``), host names (``intranet.example``) or single
    endpoints ``host:port`` (``127.0.0.1:8001``, ``[::1]:8001``, ``localhost:8001``); an
    endpoint lets in that port alone, so allowing a local demo shop does not open every other
    service on the machine.
    """

    def __init__(self, allow: Iterable[str] = (), resolver: Resolver | None = None) -> None:
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self._hosts: set[str] = set()
        self._ip_endpoints: set[tuple[IPAddress, int]] = set()
        self._host_endpoints: set[tuple[str, int]] = set()
        for item in allow:
            try:
                self._networks.append(ipaddress.ip_network(item.strip(), strict=False))
                continue
            except ValueError:
                pass
            endpoint = _parse_endpoint(item)
            if endpoint is None:
                self._hosts.add(_normalise_host(item))
                continue
            host, port = endpoint
            ip = _parse_ip(host)
            if ip is not None:
                self._ip_endpoints.add((ip, port))
            else:
                self._host_endpoints.add((_normalise_host(host), port))
        self.resolver: Resolver = resolver or system_resolver

    def host_allowed(self, host: str, port: int | None = None) -> bool:
        name = _normalise_host(host)
        return name in self._hosts or (port is not None and (name, port) in self._host_endpoints)

    def reason(self, ip: IPAddress, port: int | None = None) -> str | None:
        """None if ``ip`` (on ``port``, when given) may be contacted, else why not."""
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        if any(c in net for c in candidates for net in self._networks):
            return None
        if port is not None and any((c, port) in self._ip_endpoints for c in candidates):
            return None
        return forbidden_reason(ip)

    def check_literal(self, host: str, port: int | None = None) -> None:
        """Refuse an IP-literal host without any network traffic (no-op for host names)."""
        ip = _parse_ip(host)
        if ip is not None:
            reason = self.reason(ip, port)
            if reason:
                raise BlockedAddressError(f"Refusing to contact {ip}: it is a {reason}.")

    async def resolve_checked(self, host: str, port: int, timeout: float | None) -> list[str]:
        """Resolve ``host`` and return its addresses, all of them validated.

        A name that resolves to *any* forbidden address is refused outright: a public shop has
        no reason to publish private addresses, and mixing them is a classic rebinding trick.
        DNS failures raise httpcore errors so that httpx reports them as connection errors.
        """
        name = _normalise_host(host)
        literal = _parse_ip(name)
        if literal is not None:
            self.check_literal(name, port)
            return [str(literal)]
        try:
            async with asyncio.timeout(timeout):
                addresses = await self.resolver(name, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"DNS lookup for {name} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"could not resolve {name}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"could not resolve {name}: no addresses")
        if self.host_allowed(name, port):
            return addresses
        for address in addresses:
            ip = _parse_ip(address.split("%", 1)[0])
            reason = "unparseable address" if ip is None else self.reason(ip, port)
            if reason:
                raise BlockedAddressError(
                    f"Refusing to contact {name}: it resolves to {address}, a {reason}."
                )
        return addresses


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore backend that validates destinations at connect time.

    httpcore calls ``connect_tcp`` for every new connection (keep-alive reuse needs none), with
    the origin's host name. We resolve it ourselves, validate every address and connect to the
    validated IP; the caller then runs TLS with ``server_hostname`` = the original host name,
    so SNI and certificate verification are unaffected.
    """

    def __init__(self, policy: AddressPolicy, *, trusted_host: str | None = None) -> None:
        self._policy = policy
        # The configured proxy (operator-chosen, often on a private network) is exempt.
        self._trusted_host = _normalise_host(trusted_host) if trusted_host else None
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self._trusted_host is not None and _normalise_host(host) == self._trusted_host:
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        addresses = await self._policy.resolve_checked(host, port, timeout)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None  # resolve_checked never returns an empty list
        raise last_error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddressError("Unix sockets are never contacted.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _LeanAssignment:
    """httpcore's request-to-connection assignment without its quadratic scans.

    httpcore 1.0, on every request start and end, asks every pooled connection whether it has
    expired (for an idle HTTP/1.1 connection that is a poll() and a getpeername() on its
    socket), counts the idle ones once per idle connection, and lists all candidates for each
    queued request. With the dozens of connections a batch of checks keeps, that was most of a
    check's CPU. Here expiry is checked only on the idle connection about to be reused (an
    expired one is closed and the search goes on), and the keep-alive limit is applied in one
    pass; the pool makes the same choices otherwise. Mixed into the pools below.
    """

    _connections: list[Any]
    _requests: list[Any]
    _max_connections: int
    _max_keepalive_connections: int

    if TYPE_CHECKING:

        def create_connection(self, origin: httpcore.Origin) -> Any: ...  # the pool's own

    def _assign_requests_to_connections(self) -> list[Any]:
        closing: list[Any] = []
        live = [connection for connection in self._connections if not connection.is_closed()]
        idle = [connection for connection in live if connection.is_idle()]
        surplus = len(idle) - self._max_keepalive_connections
        if surplus > 0:
            # Close the oldest idle connections until the pool is within the keep-alive limit.
            dropped = {id(connection) for connection in idle[:surplus]}
            closing.extend(idle[:surplus])
            live = [connection for connection in live if id(connection) not in dropped]
        self._connections[:] = live

        for pool_request in [request for request in self._requests if request.is_queued()]:
            origin = pool_request.request.url.origin
            connection = None
            for candidate in list(self._connections):
                if not (candidate.can_handle_request(origin) and candidate.is_available()):
                    continue
                if candidate.is_idle() and candidate.has_expired():
                    self._connections.remove(candidate)
                    closing.append(candidate)
                    continue
                connection = candidate
                break
            if connection is None:
                if len(self._connections) >= self._max_connections:
                    spare = next((c for c in self._connections if c.is_idle()), None)
                    if spare is None:
                        continue  # stays queued until a connection frees up
                    self._connections.remove(spare)
                    closing.append(spare)
                connection = self.create_connection(origin)
                self._connections.append(connection)
            pool_request.assign_to_connection(connection)
        return closing


class _LeanConnectionPool(_LeanAssignment, httpcore.AsyncConnectionPool):
    pass


class _LeanHTTPProxy(_LeanAssignment, httpcore.AsyncHTTPProxy):
    pass


# The override replaces a private method; only trust it on the httpcore line it was written
# against (pinned in requirements.txt) and fall back to the stock pools on any other.
_LEAN_POOLS = httpcore.__version__.startswith("1.0.")
_ConnectionPool: type[httpcore.AsyncConnectionPool] = (
    _LeanConnectionPool if _LEAN_POOLS else httpcore.AsyncConnectionPool
)
_HTTPProxy: type[httpcore.AsyncHTTPProxy] = (
    _LeanHTTPProxy if _LEAN_POOLS else httpcore.AsyncHTTPProxy
)


def _build_transport(
    policy: AddressPolicy,
    *,
    proxy: str | None,
    ssl_context: ssl.SSLContext,
    limits: httpx.Limits,
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose httpcore pool uses :class:`GuardedNetworkBackend`.

    httpx has no public way to pass an httpcore network backend, while httpcore pools take one
    as a documented constructor argument. So we let httpx build its transport (request/response
    wrapping and exception mapping) and replace its pool by one built with public httpcore API;
    ``AsyncHTTPTransport`` does nothing with ``_pool`` except forward requests to it.
    """
    # Passing the context also spares httpx from building (and discarding) one of its own.
    transport = httpx.AsyncHTTPTransport(
        verify=ssl_context, http2=True, limits=limits, trust_env=False
    )
    pool: httpcore.AsyncConnectionPool
    if proxy is None:
        pool = _ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=True,
            network_backend=GuardedNetworkBackend(policy),
        )
    else:
        parsed = httpx.Proxy(url=proxy)
        pool = _HTTPProxy(
            proxy_url=httpcore.URL(
                scheme=parsed.url.raw_scheme,
                host=parsed.url.raw_host,
                port=parsed.url.port,
                target=parsed.url.raw_path,
            ),
            proxy_auth=parsed.raw_auth,
            proxy_headers=parsed.headers.raw,
            proxy_ssl_context=parsed.ssl_context,
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=True,
            network_backend=GuardedNetworkBackend(policy, trusted_host=parsed.url.host),
        )
    transport._pool = pool
    return transport


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def match_domain(host: str, domains: Iterable[str]) -> str | None:
    """The most specific of ``domains`` that ``host`` equals or is a sub-domain of."""
    return _match_domain(host, domains)


def _match_domain(host: str, domains: Iterable[str]) -> str | None:
    """The most specific configured domain that ``host`` equals or is a sub-domain of."""
    host = _normalise_host(host)
    best: str | None = None
    for domain in domains:
        key = _normalise_host(domain).removeprefix("*.").lstrip(".")
        matches = key and (host == key or host.endswith("." + key))
        if matches and (best is None or len(key) > len(_normalise_host(best).lstrip("*."))):
            best = domain
    return best


class _RoutingTransport(httpx.AsyncBaseTransport):
    """Sends each request direct or through its proxy, validating proxied targets first.

    Routing lives here (not in httpx ``mounts``) so that the very function that decides "this
    goes through a proxy" also triggers the target check - they cannot disagree.
    """

    def __init__(
        self,
        policy: AddressPolicy,
        config: FetchConfig,
        direct: httpx.AsyncHTTPTransport,
        proxied: dict[str, httpx.AsyncHTTPTransport],
    ) -> None:
        self._policy = policy
        self._config = config
        self._direct = direct
        self._proxied = proxied

    def proxy_for(self, host: str) -> str | None:
        domain = _match_domain(host, self._config.domain_proxies)
        if domain is not None:
            return self._config.domain_proxies[domain]
        return self._config.proxy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # Defence in depth: Fetcher validates URLs already, but nothing non-http may pass here.
        if request.url.scheme not in _ALLOWED_SCHEMES:
            raise BadSchemeError(f"Refusing a {request.url.scheme}: URL.", url=str(request.url))
        proxy = self.proxy_for(request.url.host)
        if proxy is None:
            return await self._direct.handle_async_request(request)
        port = _port(request.url)
        try:
            await self._policy.resolve_checked(request.url.host, port, self._config.connect_timeout)
        # We are outside httpx's own transport here, so translate like it would.
        except httpcore.ConnectTimeout as exc:
            raise httpx.ConnectTimeout(str(exc), request=request) from exc
        except httpcore.ConnectError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        return await self._proxied[proxy].handle_async_request(request)

    async def aclose(self) -> None:
        for transport in (self._direct, *self._proxied.values()):
            await transport.aclose()


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _HostGate:
    """Per-host concurrency limit plus a minimum gap between request starts."""

    def __init__(self, concurrency: int, min_delay: float) -> None:
        self._semaphore = asyncio.Semaphore(concurrency)
        self._min_delay = min_delay
        self._next_start = 0.0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._semaphore:
            # Reserve a start time. No await between reading and writing _next_start, so
            # concurrent tasks on this event loop cannot interleave here: no lock needed.
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self._min_delay
            if start > now:
                await asyncio.sleep(start - now)
            yield


@dataclass
class _Exchange:
    url: httpx.URL
    status: int
    headers: httpx.Headers
    body: bytes | None
    http_version: str
    wire_bytes: int


@dataclass
class _RobotsEntry:
    expires: float
    parser: urllib.robotparser.RobotFileParser | None  # None = everything allowed


@dataclass
class _RenderState:
    redirects: int = 0
    redirect_to: httpx.URL | None = None
    main_error: FetchError | None = None
    main_status: int | None = None
    main_headers: httpx.Headers | None = None
    http_version: str = "HTTP/1.1"
    wire_bytes: int = 0


def _no_cookies() -> CookieJar:
    # The shared client must not accumulate cookies across shops and checks; each fetch keeps
    # its own jar (so redirect "cookie dances" still work) and the browser keeps its own.
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


# --------------------------------------------------------------------------------------------
# Fetcher
# --------------------------------------------------------------------------------------------


class Fetcher:
    """``async with Fetcher(config) as fetcher: result = await fetcher.fetch(url)``."""

    def __init__(
        self, config: FetchConfig | None = None, *, resolver: Resolver | None = None
    ) -> None:
        self.config = config or FetchConfig()
        self.policy = AddressPolicy(self.config.allow_networks, resolver)
        # Keep every pooled connection alive: a batch of checks to one shop reuses them all.
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        # One TLS context for all transports: loading a CA bundle costs tens of milliseconds.
        ssl_context = (
            ssl.create_default_context(cafile=self.config.ca_file)
            if self.config.ca_file
            else httpx.create_ssl_context(trust_env=False)  # certifi's bundle
        )

        def transport(proxy: str | None) -> httpx.AsyncHTTPTransport:
            return _build_transport(
                self.policy, proxy=proxy, ssl_context=ssl_context, limits=limits
            )

        proxies = {p for p in (self.config.proxy, *self.config.domain_proxies.values()) if p}
        self._router = _RoutingTransport(
            self.policy, self.config, transport(None), {p: transport(p) for p in proxies}
        )
        self._client = httpx.AsyncClient(
            transport=self._router,
            headers=self._default_headers(),
            timeout=httpx.Timeout(
                connect=self.config.connect_timeout,
                read=self.config.read_timeout,
                write=self.config.read_timeout,
                pool=self.config.total_timeout,
            ),
            follow_redirects=False,
            # Proxies come from FetchConfig only; environment proxies would bypass the guard.
            trust_env=False,
            cookies=_no_cookies(),
        )
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, _RobotsEntry] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        # Jitter only spreads retries out; it needs no cryptographic randomness.
        self._random = random.Random()  # noqa: S311
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._browser_lock = asyncio.Lock()

    def _default_headers(self) -> dict[str, str]:
        headers = {
            "User-Agent": self.config.user_agent,
            "Accept": DEFAULT_ACCEPT,
            "Accept-Language": self.config.accept_language,
            "Accept-Encoding": _accept_encoding(),
            "Upgrade-Insecure-Requests": "1",
            "Sec-Fetch-Dest": "document",
            "Sec-Fetch-Mode": "navigate",
            "Sec-Fetch-Site": "none",
            "Sec-Fetch-User": "?1",
        }
        headers.update(self.config.extra_headers)
        return headers

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        try:
            if self._browser is not None:
                await self._browser.close()
            if self._playwright is not None:
                await self._playwright.stop()
        finally:
            self._browser = self._playwright = None
            await self._client.aclose()

    # ---------------------------------------------------------------------------- public API

    async def fetch(self, url: str, *, render: bool = False, fresh: bool = False) -> FetchResult:
        """Fetch ``url``; raise a :class:`FetchError` (carrying the attempts) on failure.

        ``fresh`` asks caches on the way (CDNs, proxies) for a new copy of the page, e.g. to
        confirm a surprising price before it is believed.
        """
        started = time.monotonic()
        attempts: list[Attempt] = []
        headers = _NO_CACHE_HEADERS if fresh else {}
        try:
            target = self.check_url(url)
            if render or _match_domain(target.host, self.config.js_domains) is not None:
                return await self._render(url, target, attempts, started, headers)
            return await self._fetch_http(url, target, attempts, started, headers)
        except FetchError as exc:
            exc.attempts = attempts
            exc.url = exc.url or url
            raise

    def check_url(self, raw: str | httpx.URL) -> httpx.URL:
        """Parse and validate a URL before any traffic: scheme, credentials, IP literals."""
        try:
            url = httpx.URL(raw)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise BadURLError(f"Not a valid URL: {exc}.", url=str(raw)) from exc
        if not url.scheme:
            raise BadURLError("Not an absolute http(s) URL.", url=str(raw))
        if url.scheme not in _ALLOWED_SCHEMES:
            raise BadSchemeError(
                f"Only http and https URLs can be fetched, not {url.scheme}: URLs.", url=str(raw)
            )
        if url.userinfo:
            # Credentials in URLs leak into logs and Referer headers; shops never need them.
            raise BadURLError("URLs containing a user name or password are refused.", url=str(raw))
        if not url.host:
            raise BadURLError("The URL has no host name.", url=str(raw))
        try:
            self.policy.check_literal(url.host, _port(url))
        except BlockedAddressError as exc:
            exc.url = str(raw)
            raise
        return url.copy_with(fragment=None)

    # ------------------------------------------------------------------------- plain HTTP path

    async def _fetch_http(
        self,
        url: str,
        target: httpx.URL,
        attempts: list[Attempt],
        started: float,
        headers: Mapping[str, str],
    ) -> FetchResult:
        current = target
        cookies = httpx.Cookies()
        seen: set[str] = set()
        redirects = 0
        while True:
            seen.add(str(current))
            await self._check_robots(current)
            exchange = await self._exchange_with_retries(current, attempts, cookies, headers)
            location = exchange.headers.get("location")
            if exchange.status in _REDIRECT_STATUSES and location:
                next_url = self.check_url(current.join(location))
                if redirects >= self.config.max_redirects:
                    loop = " (a redirect loop)" if str(next_url) in seen else ""
                    raise TooManyRedirectsError(
                        f"Gave up after {redirects} redirects{loop}.", url=str(current)
                    )
                redirects += 1
                current = next_url
                continue
            if not 200 <= exchange.status < 300:
                retryable = exchange.status == 429 or exchange.status >= 500
                raise HttpStatusError(
                    f"The server answered HTTP {exchange.status} for {current}.",
                    url=str(current),
                    status=exchange.status,
                    retryable=retryable,
                    retry_after=parse_retry_after(exchange.headers.get("retry-after")),
                )
            if not exchange.body:
                raise EmptyBodyError(
                    f"The server answered HTTP {exchange.status} with an empty page.",
                    url=str(current),
                    status=exchange.status,
                )
            return FetchResult(
                url=url,
                final_url=str(current),
                status_code=exchange.status,
                headers={
                    k: v for k, v in exchange.headers.items() if k.lower() in _KEPT_RESPONSE_HEADERS
                },
                body=exchange.body,
                encoding=_declared_charset(exchange.headers),
                elapsed=time.monotonic() - started,
                bytes_received=exchange.wire_bytes,
                attempts=attempts,
                http_version=exchange.http_version,
                rendered=False,
            )

    def _backoff(self, retry_number: int) -> float:
        # Exponential growth, capped, with "equal jitter": half fixed, half random, so
        # synchronised clients spread out while the delay never collapses to zero.
        ceiling = min(self.config.backoff_max, self.config.backoff_base * 2.0**retry_number)
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    async def _exchange_with_retries(
        self,
        url: httpx.URL,
        attempts: list[Attempt],
        cookies: httpx.Cookies,
        headers: Mapping[str, str],
    ) -> _Exchange:
        for retry_number in range(self.config.retries + 1):
            last_try = retry_number == self.config.retries
            try:
                exchange = await self._attempt(url, attempts, cookies, headers=headers)
            except FetchError as exc:
                if exc.code not in _RETRY_CODES or last_try:
                    raise
                delay = self._backoff(retry_number)
            else:
                if not (exchange.status == 429 or exchange.status >= 500) or last_try:
                    return exchange
                delay = self._backoff(retry_number)
                retry_after = parse_retry_after(exchange.headers.get("retry-after"))
                if retry_after is not None:
                    if retry_after > self.config.retry_after_max:
                        return exchange  # reported as http_error with retry_after set
                    delay = max(delay, retry_after)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns/raises

    def _gate(self, host: str) -> _HostGate:
        key = _normalise_host(host)
        gate = self._gates.get(key)
        if gate is None:
            gate = _HostGate(self.config.per_host_concurrency, self.config.per_host_min_delay)
            self._gates[key] = gate
        return gate

    async def _attempt(
        self,
        url: httpx.URL,
        attempts: list[Attempt],
        cookies: httpx.Cookies,
        *,
        body_limit: int | None = None,
        truncate: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> _Exchange:
        """One request, politely scheduled, bounded by total_timeout, recorded as an Attempt.

        The body is read only for 2xx answers; for redirects and errors at most a small body
        is drained (to keep the connection reusable), never kept.
        """
        limit = body_limit or self.config.max_body_bytes
        async with self._gate(url.host).slot():
            began = time.monotonic()
            status: int | None = None
            code: str | None = None
            response: httpx.Response | None = None
            try:
                # The total timeout starts once we hold the slot: queueing behind other
                # requests to the same shop must not eat into it.
                async with asyncio.timeout(self.config.total_timeout):
                    request = self._client.build_request("GET", url, headers=headers)
                    cookies.set_cookie_header(request)
                    response = await self._client.send(request, stream=True)
                    try:
                        status = response.status_code
                        cookies.extract_cookies(response)
                        body = None
                        if 200 <= status < 300:
                            body = await _read_limited(response, limit, truncate=truncate)
                        else:
                            await _drain_small(response)
                        return _Exchange(
                            url=url,
                            status=status,
                            headers=response.headers,
                            body=body,
                            http_version=response.http_version,
                            wire_bytes=response.num_bytes_downloaded,
                        )
                    finally:
                        await response.aclose()
            except FetchError as exc:
                code = exc.code
                exc.url = exc.url or str(url)
                raise
            except Exception as exc:
                mapped = _map_exception(exc, url, self.config)
                code = mapped.code
                raise mapped from exc
            finally:
                attempts.append(
                    Attempt(
                        url=str(url),
                        status_code=status,
                        error_class=code,
                        duration=time.monotonic() - began,
                        bytes=response.num_bytes_downloaded if response is not None else 0,
                    )
                )

    # ------------------------------------------------------------------------------ robots.txt

    def _robots_apply(self, host: str) -> bool:
        domain = _match_domain(host, self.config.robots_overrides)
        if domain is not None:
            return self.config.robots_overrides[domain]
        return self.config.respect_robots

    async def _check_robots(self, url: httpx.URL) -> None:
        if not self._robots_apply(url.host):
            return
        origin = str(url.copy_with(path="/", query=None, fragment=None))
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        # One fetch per origin: concurrent requests wait for it and then hit the cache.
        async with lock:
            entry = self._robots.get(origin)
            if entry is None or entry.expires <= time.monotonic():
                entry = await self._load_robots(url.copy_with(path="/robots.txt", query=None))
                self._robots[origin] = entry
        if entry.parser is not None and not entry.parser.can_fetch(
            self.config.robots_agent, str(url)
        ):
            raise RobotsDisallowedError(
                f"The site's robots.txt does not allow fetching {url}.", url=str(url)
            )

    async def _load_robots(self, robots_url: httpx.URL) -> _RobotsEntry:
        """Fetch and parse robots.txt.

        Choices (RFC 9309 for 2xx/4xx): 2xx -> parse; 4xx (incl. 404) -> no rules, allow all.
        5xx, 429, timeouts and network errors -> allow all too, but cached only for a few
        minutes: a price check is one page view, and an outage of the shop's robots.txt should
        not stop monitoring, nor lock "allow all" in for the whole TTL. A *blocked address*
        is never treated as "unreachable": it propagates, so the guard cannot be sidestepped.
        """
        now = time.monotonic()
        failure = _RobotsEntry(now + min(self.config.robots_ttl, _ROBOTS_FAILURE_TTL), None)
        url = robots_url
        throwaway: list[Attempt] = []  # robots.txt requests are not page attempts
        for hop in range(self.config.max_redirects + 1):
            try:
                exchange = await self._attempt(
                    url, throwaway, httpx.Cookies(), body_limit=_ROBOTS_MAX_BYTES, truncate=True
                )
            except BlockedAddressError:
                if hop == 0:
                    raise  # the page's own host is forbidden
                return failure  # only a redirect of robots.txt pointed somewhere forbidden
            except FetchError:
                return failure
            location = exchange.headers.get("location")
            if exchange.status in _REDIRECT_STATUSES and location:
                try:
                    url = self.check_url(url.join(location))
                except FetchError:
                    return failure
                continue
            if 200 <= exchange.status < 300:
                parser = urllib.robotparser.RobotFileParser(str(robots_url))
                parser.parse((exchange.body or b"").decode("utf-8", "replace").splitlines())
                parser.modified()  # can_fetch() refuses everything until this is set
                return _RobotsEntry(now + self.config.robots_ttl, parser)
            if 400 <= exchange.status < 500 and exchange.status != 429:
                return _RobotsEntry(now + self.config.robots_ttl, None)
            return failure
        return failure

    # ------------------------------------------------------------------------------ rendering

    async def _get_browser(self) -> Browser:
        try:
            # Imported here: optional: only JavaScript rendering needs Playwright.
            from playwright.async_api import async_playwright  # noqa: PLC0415
        except ImportError as exc:
            raise RenderUnavailableError(
                "JavaScript rendering needs the playwright package and Chromium."
            ) from exc
        if not Path(self.config.chromium_path).exists():
            raise RenderUnavailableError(
                "JavaScript rendering needs the playwright package and Chromium "
                f"(no Chromium at {self.config.chromium_path})."
            )
        async with self._browser_lock:
            if self._browser is None:
                self._playwright = await async_playwright().start()
                self._browser = await self._playwright.chromium.launch(
                    executable_path=self.config.chromium_path,
                    args=list(CHROMIUM_ARGS),
                    headless=True,
                )
            return self._browser

    async def _render(
        self,
        url: str,
        target: httpx.URL,
        attempts: list[Attempt],
        started: float,
        headers: Mapping[str, str],
    ) -> FetchResult:
        """Load the page in headless Chromium.

        Every request of the page is intercepted by :meth:`_route` and performed by our guarded
        client. Chromium does not follow redirects answered through interception, so a
        redirect of the main document is handled here: the handler records the (validated)
        target and aborts, and we navigate to it - one checked, counted, polite hop at a time.
        """
        await self._check_robots(target)  # before paying for a browser start
        browser = await self._get_browser()
        # Imported here: optional: only JavaScript rendering needs Playwright.
        from playwright.async_api import Error as PlaywrightError  # noqa: PLC0415

        state = _RenderState()
        timeout_message = f"Rendering took longer than {self.config.total_timeout:g} s."
        context = await browser.new_context(
            user_agent=self.config.user_agent,
            locale=self.config.accept_language.split(",")[0].split(";")[0].strip() or None,
            extra_http_headers={"Accept-Language": self.config.accept_language, **headers},
            service_workers="block",  # they could make requests outside our interception
        )
        try:
            await context.route("**/*", lambda route: self._route(route, state, attempts))
            await context.route_web_socket("**/*", _refuse_websocket)
            page = await context.new_page()
            async with asyncio.timeout(self.config.total_timeout):
                current = target
                while True:
                    state.redirect_to = None
                    try:
                        response = await page.goto(
                            str(current),
                            wait_until="load",
                            timeout=self.config.total_timeout * 1000,
                        )
                    except PlaywrightError:
                        if state.redirect_to is None:
                            raise
                    if state.redirect_to is None:
                        break
                    if state.redirects >= self.config.max_redirects:
                        raise TooManyRedirectsError(
                            f"Gave up after {state.redirects} redirects.", url=str(current)
                        )
                    state.redirects += 1
                    current = state.redirect_to
                # Give late XHRs (prices are often loaded that way) a moment to settle.
                with contextlib.suppress(PlaywrightError):
                    await page.wait_for_load_state("networkidle", timeout=5000)
                html = await page.content()
                final_url = page.url
        except TimeoutError as exc:
            raise FetchTimeoutError(timeout_message, url=url) from exc
        except PlaywrightError as exc:
            if state.main_error is not None:
                raise state.main_error from exc
            if "Timeout" in type(exc).__name__:
                raise FetchTimeoutError(timeout_message, url=url) from exc
            raise RenderError(f"The browser failed to load the page: {exc}", url=url) from exc
        finally:
            with contextlib.suppress(Exception):
                await context.close()
        if state.main_error is not None:
            raise state.main_error
        status = state.main_status or (response.status if response is not None else 0)
        body = html.encode("utf-8")
        if not 200 <= status < 300:
            raise HttpStatusError(
                f"The server answered HTTP {status} for {final_url}.",
                url=final_url,
                status=status,
                retryable=status == 429 or status >= 500,
            )
        if len(body) > self.config.max_body_bytes:
            raise TooLargeError(
                f"The rendered page is larger than the {self.config.max_body_bytes} byte limit.",
                url=final_url,
            )
        if not html.strip():
            raise EmptyBodyError("The rendered page is empty.", url=final_url, status=status)
        headers = state.main_headers or httpx.Headers()
        kept = {k: v for k, v in headers.items() if k.lower() in _KEPT_RESPONSE_HEADERS}
        kept["content-type"] = "text/html; charset=utf-8"  # page.content() is a str we encode
        kept.pop("content-length", None)
        kept.pop("content-encoding", None)
        return FetchResult(
            url=url,
            final_url=final_url,
            status_code=status,
            headers=kept,
            body=body,
            encoding="utf-8",
            elapsed=time.monotonic() - started,
            bytes_received=state.wire_bytes,
            attempts=attempts,
            http_version=state.http_version,
            rendered=True,
        )

    async def _route(self, route: Route, state: _RenderState, attempts: list[Attempt]) -> None:
        """Perform one browser request through our guarded client, or refuse it.

        Main-document requests get the same treatment as plain fetches (robots.txt,
        politeness slot, recorded Attempt); sub-resources only the guard and body limit.
        """
        request = route.request
        try:
            is_main = request.is_navigation_request() and request.frame.parent_frame is None
        except Exception:  # requests without a frame (workers): treat as sub-resources
            is_main = False
        if not is_main and request.resource_type in _BROWSER_SKIPPED_RESOURCES:
            # Prices need no pictures or fonts; skipping them saves the shop and us bandwidth.
            with contextlib.suppress(Exception):
                await route.abort("blockedbyclient")
            return
        began = time.monotonic()
        status: int | None = None
        wire = 0
        try:
            url = self.check_url(request.url)
            headers = {
                k: v
                for k, v in (await request.all_headers()).items()
                if k.lower() not in _HOP_HEADERS | {"host", "accept-encoding"}
                and not k.startswith(":")
            }
            method, content = request.method, request.post_data_buffer
            if is_main:
                await self._check_robots(url)
                async with self._gate(url.host).slot():
                    exchange = await self._browser_exchange(method, url, headers, content)
            else:
                # Sub-resources: follow redirects here, each hop validated by check_url and
                # the connect-time guard (Chromium cannot follow intercepted redirects).
                for _hop in range(self.config.max_redirects + 1):
                    exchange = await self._browser_exchange(method, url, headers, content)
                    location = exchange.headers.get("location")
                    if exchange.status not in _REDIRECT_STATUSES or not location:
                        break
                    url = self.check_url(url.join(location))
                    if exchange.status == 303 or (
                        exchange.status in (301, 302) and method == "POST"
                    ):
                        method, content = "GET", None
                else:
                    raise TooManyRedirectsError("Too many redirects.", url=request.url)
            status, wire = exchange.status, exchange.wire_bytes
            state.wire_bytes += wire
            location = exchange.headers.get("location")
            if is_main and exchange.status in _REDIRECT_STATUSES and location:
                state.redirect_to = self.check_url(url.join(location))
                attempts.append(Attempt(str(url), status, None, time.monotonic() - began, wire))
                with contextlib.suppress(Exception):
                    await route.abort("aborted")  # _render navigates to redirect_to
                return
            if is_main:
                state.main_status = exchange.status
                state.main_headers = exchange.headers
                state.http_version = exchange.http_version
                attempts.append(Attempt(str(url), status, None, time.monotonic() - began, wire))
            await route.fulfill(
                status=exchange.status,
                headers=_browser_headers(exchange.headers),
                body=exchange.body or b"",
            )
        except Exception as exc:
            error = exc if isinstance(exc, FetchError) else _map_exception(exc, request.url)
            if is_main:
                state.main_error = error
                attempts.append(
                    Attempt(request.url, status, error.code, time.monotonic() - began, wire)
                )
            with contextlib.suppress(Exception):
                await route.abort(
                    "blockedbyclient" if error.code == "blocked_address" else "failed"
                )

    async def _browser_exchange(
        self, method: str, url: httpx.URL, headers: dict[str, str], content: bytes | None
    ) -> _Exchange:
        """One request on behalf of the browser (guarded client, body limit, total timeout)."""
        try:
            async with asyncio.timeout(self.config.total_timeout):
                outgoing = self._client.build_request(method, url, headers=headers, content=content)
                response = await self._client.send(outgoing, stream=True)
                try:
                    body = await _read_limited(response, self.config.max_body_bytes)
                finally:
                    await response.aclose()
        except FetchError:
            raise
        except Exception as exc:
            raise _map_exception(exc, url, self.config) from exc
        return _Exchange(
            url=url,
            status=response.status_code,
            headers=response.headers,
            body=body,
            http_version=response.http_version,
            wire_bytes=response.num_bytes_downloaded,
        )


async def _refuse_websocket(websocket: WebSocketRoute) -> None:
    # Not calling connect_to_server() means the socket never reaches the network.
    await websocket.close()


def _browser_headers(headers: httpx.Headers) -> dict[str, str]:
    """Response headers for route.fulfill (body already decoded; repeated headers joined)."""
    out: dict[str, str] = {}
    for key, value in headers.multi_items():
        key = key.lower()
        if key in _HOP_HEADERS:
            continue
        # Playwright expects repeated headers (Set-Cookie) separated by newlines.
        out[key] = f"{out[key]}\n{value}" if key in out else value
    return out


async def _drain_small(response: httpx.Response) -> None:
    """Read a small unused body (redirect, error page) so the connection can be reused.

    Closing a response with unread body data forces httpcore to drop the connection; for the
    few bytes of a typical redirect or 404 page reading them is cheaper than a new handshake.
    Large or unsized bodies are left unread and the connection is closed instead.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) <= _DRAIN_MAX_BYTES:
        with contextlib.suppress(httpx.HTTPError):
            async for _ in response.aiter_raw():
                pass


def _declared_charset(headers: httpx.Headers) -> str | None:
    """The ``charset`` parameter of Content-Type, as declared (not validated, not applied)."""
    message = email.message.Message()
    message["content-type"] = headers.get("content-type", "")
    charset = message.get_param("charset")
    if not isinstance(charset, str):  # absent, or an RFC 2231 tuple nobody sends in practice
        return None
    return charset.strip() or None


async def _read_limited(response: httpx.Response, limit: int, *, truncate: bool = False) -> bytes:
    """Stream a (decompressed) body, stopping at ``limit`` bytes.

    The limit applies to decoded bytes, which also defeats compression bombs; httpx inflates
    one network chunk at a time, so memory overshoot is bounded by one chunk's expansion.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit and not truncate:
        raise TooLargeError(
            f"The page announces {int(declared)} bytes, more than the {limit} byte limit.",
            url=str(response.url),
        )
    buffer = bytearray()
    async for chunk in response.aiter_bytes():
        if len(buffer) + len(chunk) > limit:
            if truncate:
                buffer += chunk[: limit - len(buffer)]
                break
            raise TooLargeError(
                f"The page is larger than the {limit} byte limit; stopped reading.",
                url=str(response.url),
            )
        buffer += chunk
    return bytes(buffer)


def _map_exception(
    exc: BaseException, url: str | httpx.URL, config: FetchConfig | None = None
) -> FetchError:
    """Translate httpx / asyncio failures into FetchErrors with plain-words messages."""
    where = str(url)
    if isinstance(exc, FetchError):
        return exc
    if isinstance(exc, TimeoutError):
        limit = f" {config.total_timeout:g} s" if config else ""
        return FetchTimeoutError(f"The page took longer than the{limit} time limit.", url=where)
    if isinstance(exc, httpx.ConnectTimeout):
        return FetchTimeoutError("Timed out while connecting to the shop.", url=where)
    if isinstance(exc, httpx.TimeoutException):
        return FetchTimeoutError("The shop stopped sending data (read timeout).", url=where)
    if isinstance(exc, httpx.ProxyError):
        return ProxyFetchError(f"The proxy refused or failed the request: {exc}", url=where)
    if isinstance(exc, httpx.DecodingError):
        return DecodeError(f"The compressed response could not be decoded: {exc}", url=where)
    if isinstance(exc, httpx.ConnectError):
        return NetworkError(f"Could not connect: {exc or 'connection failed'}", url=where)
    if isinstance(exc, httpx.TransportError):
        return NetworkError(f"The connection failed: {exc or type(exc).__name__}", url=where)
    if isinstance(exc, httpx.InvalidURL):
        return BadURLError(f"Not a valid URL: {exc}", url=where)
    return NetworkError(f"Unexpected failure: {type(exc).__name__}: {exc}", url=where)


def fetch_sync(url: str, config: FetchConfig | None = None, *, render: bool = False) -> FetchResult:
    """Blocking one-off fetch for CLI use (not from inside a running event loop)."""

    async def run() -> FetchResult:
        async with Fetcher(config) as fetcher:
            return await fetcher.fetch(url, render=render)

    return asyncio.run(run())
