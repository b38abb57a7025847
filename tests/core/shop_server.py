"""A small scripted HTTP/1.1 shop server on 127.0.0.1 for fetcher tests.

Runs ``ThreadingHTTPServer`` in a background thread. Routes map a path to a function that
writes the response; every request is logged with its arrival time (``time.monotonic``, the
same clock the tests use) so politeness can be measured on the server side.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = Callable[["ShopHandler"], None]


@dataclass
class Record:
    method: str
    path: str
    requestline: str
    headers: dict[str, str]
    arrived: float
    client_port: int


@dataclass
class ServerState:
    routes: dict[str, Route] = field(default_factory=dict)
    fallback: Route | None = None
    log: list[Record] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    sni_names: list[str | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ShopHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        state = self.server.state
        path = self.path.split("?", 1)[0]
        with state.lock:
            state.log.append(
                Record(
                    method=self.command,
                    path=self.path,
                    requestline=self.requestline,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    arrived=time.monotonic(),
                    client_port=self.client_address[1],
                )
            )
            state.hits[path] += 1
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            route = state.routes.get(path) or state.fallback
            if route is None:
                self.reply(404, b"not found")
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeouts, size limits)
        finally:
            with state.lock:
                state.in_flight -= 1

    do_POST = do_GET

    def reply(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        content_type: str = "text/html; charset=utf-8",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def hits(self, path: str | None = None) -> int:
        return self.server.state.hits[path or self.path.split("?", 1)[0]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # do not wait for trickling handlers on shutdown
    state: ServerState

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (timeouts, size limits, refused TLS) are expected in these tests.
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class ShopServer:
    """``with ShopServer(routes) as shop: shop.url("/page")``."""

    def __init__(
        self,
        routes: dict[str, Route] | None = None,
        *,
        fallback: Route | None = None,
        tls: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.state = ServerState(routes=dict(routes or {}), fallback=fallback)
        self._server = _Server((host, 0), ShopHandler)
        self._server.state = self.state
        if tls is not None:
            tls.sni_callback = self._record_sni
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.host = host
        self.port = self._server.server_address[1]
        self.scheme = "https" if tls else "http"
        # A short poll interval keeps shutdown() (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def _record_sni(self, sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        self.state.sni_names.append(name)

    def url(self, path: str, host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    @property
    def log(self) -> list[Record]:
        return self.state.log

    def requests_to(self, path: str) -> list[Record]:
        return [r for r in self.state.log if r.path.split("?", 1)[0] == path]

    def __enter__(self) -> ShopServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# ------------------------------------------------------------------------- scripted responses

PAGE = b"<html><head><title>Kettle</title></head><body><p class=price>19.99 EUR</p></body></html>"


def page(h: ShopHandler) -> None:
    h.reply(200, PAGE)


def latin1_page(h: ShopHandler) -> None:
    h.reply(
        200,
        "<p>Preis: 9,99 \u20ac caf\xe9</p>".encode("cp1252"),
        content_type="text/html; charset=windows-1252",
    )


def gzip_page(h: ShopHandler) -> None:
    h.reply(200, gzip.compress(PAGE * 50), headers={"Content-Encoding": "gzip"})


def deflate_page(h: ShopHandler) -> None:
    h.reply(200, zlib.compress(PAGE * 50), headers={"Content-Encoding": "deflate"})


def gzip_bomb(h: ShopHandler) -> None:
    # ~2 MB of zeros compresses to a few KB: only the decoded size reveals it.
    h.reply(200, gzip.compress(b"\0" * 2_000_000), headers={"Content-Encoding": "gzip"})


def empty(h: ShopHandler) -> None:
    h.reply(200, b"")


BINARY = bytes(range(256)) * 64


def binary(h: ShopHandler) -> None:
    h.reply(200, BINARY, content_type="application/octet-stream")


def not_found(h: ShopHandler) -> None:
    h.reply(404, b"gone")


def always_503(h: ShopHandler) -> None:
    h.reply(503, b"busy")


def flaky_500(h: ShopHandler) -> None:
    if h.hits() == 1:
        h.reply(500, b"oops")
    else:
        h.reply(200, PAGE)


def rate_limited_once(h: ShopHandler) -> None:
    if h.hits() == 1:
        h.reply(429, b"slow down", headers={"Retry-After": "1"})
    else:
        h.reply(200, PAGE)


def rate_limited_long(h: ShopHandler) -> None:
    h.reply(429, b"come back tomorrow", headers={"Retry-After": "86400"})


def redirect_to(location: str, status: int = 302) -> Route:
    def route(h: ShopHandler) -> None:
        h.reply(status, b"", headers={"Location": location})

    return route


def redirect_chain(h: ShopHandler) -> None:
    # /chain/3 -> /chain/2 -> /chain/1 -> /page, with relative Locations
    n = int(h.path.rsplit("/", 1)[1])
    h.reply(301, b"", headers={"Location": f"/chain/{n - 1}" if n > 1 else "../page"})


def set_cookie_then_redirect(h: ShopHandler) -> None:
    if "visited=1" in (h.headers.get("Cookie") or ""):
        h.reply(200, PAGE)
    else:
        h.reply(302, b"", headers={"Location": "/cookie", "Set-Cookie": "visited=1; Path=/"})


def trickle(h: ShopHandler) -> None:
    # Headers at once, then one byte every 50 ms: read timeouts never fire, only the total.
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Content-Length", "100000")
    h.end_headers()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        h.wfile.write(b"x")
        h.wfile.flush()
        time.sleep(0.05)


def stall(h: ShopHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Content-Length", "1000")
    h.end_headers()
    h.wfile.flush()
    time.sleep(3)


def huge_streamed(h: ShopHandler) -> None:
    # No Content-Length: the limit must be enforced while streaming.
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Connection", "close")
    h.end_headers()
    h.close_connection = True
    chunk = b"y" * 65536
    for _ in range(200):  # 13 MB at most
        h.wfile.write(chunk)


def huge_declared(h: ShopHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Content-Length", str(50_000_000))
    h.end_headers()
    h.wfile.write(b"z" * 1000)
    h.close_connection = True


def slow_page(h: ShopHandler) -> None:
    time.sleep(0.2)
    h.reply(200, PAGE)


def robots_disallow_private(h: ShopHandler) -> None:
    h.reply(
        200,
        # A named group replaces "*" for that agent (robots.txt semantics).
        b"User-agent: otherbot\nDisallow: /\n\nUser-agent: *\nDisallow: /private\n",
        content_type="text/plain",
    )


def robots_500(h: ShopHandler) -> None:
    h.reply(500, b"broken")


def echo_headers(h: ShopHandler) -> None:
    h.reply(200, b"ok " + h.headers.get("User-Agent", "").encode())


class H2Server:
    """A minimal HTTP/2-over-TLS server (``h2`` state machine, one thread per connection).

    Answers every request with ``body`` and records the request headers, so tests can prove
    that the fetcher negotiates HTTP/2 through its guarded network backend.
    """

    def __init__(self, tls: ssl.SSLContext, body: bytes = PAGE) -> None:
        tls.set_alpn_protocols(["h2"])
        self._tls = tls
        self._body = body
        self.requests: list[dict[str, str]] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}{path}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self._sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        import h2.config
        import h2.connection
        import h2.events

        raw.settimeout(5)
        try:
            with self._tls.wrap_socket(raw, server_side=True) as conn:
                h2conn = h2.connection.H2Connection(
                    h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
                )
                h2conn.initiate_connection()
                conn.sendall(h2conn.data_to_send())
                while data := conn.recv(65535):
                    for event in h2conn.receive_data(data):
                        if isinstance(event, h2.events.RequestReceived):
                            self.requests.append({str(k): str(v) for k, v in event.headers})
                            h2conn.send_headers(
                                event.stream_id,
                                [
                                    (":status", "200"),
                                    ("content-type", "text/html; charset=utf-8"),
                                    ("content-length", str(len(self._body))),
                                ],
                            )
                            h2conn.send_data(event.stream_id, self._body, end_stream=True)
                    conn.sendall(h2conn.data_to_send())
        except (OSError, ssl.SSLError):
            pass  # client went away

    def __enter__(self) -> H2Server:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()
