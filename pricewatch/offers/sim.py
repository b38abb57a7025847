"""A local offers service speaking the public API (`pricewatch offers-sim`).

Auth: `POST /auth` with header `Bearer: <refresh token>` gives an access token valid
`token_seconds`; a new one only once the old one expired (400 before that). Offers change price
every `tick_seconds`, sell out and are replaced. `delay` slows every answer (benchmarks).
`faults` lets tests make a product's answer misbehave: {uuid: "500" | "429" | "json" | ...}.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class SimOffer:
    id: str
    price: int
    items_in_stock: int


@dataclass
class SimState:
    refresh_token: str
    token_seconds: float = 300.0
    tick_seconds: float = 60.0
    delay: float = 0.0
    seed: int = 1
    products: dict[str, list[SimOffer]] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expires at
    faults: dict[str, str] = field(default_factory=dict)
    last_tick: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue_token(self) -> str | None:
        now = time.monotonic()
        if any(expires > now for expires in self.tokens.values()):
            return None
        token = uuid.uuid4().hex
        self.tokens = {token: now + self.token_seconds}
        return token

    def valid(self, token: str | None) -> bool:
        return token is not None and self.tokens.get(token, 0) > time.monotonic()

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def new_offers(self, rng: random.Random) -> list[SimOffer]:
        return [
            SimOffer(str(uuid.uuid4()), rng.randint(500, 50_000), rng.randint(1, 20))
            for _ in range(rng.randint(1, 4))
        ]

    def advance(self) -> None:
        """Move every product's offers one step: prices change, some sell out and are replaced."""
        rng = random.Random()  # noqa: S311 - a simulation
        for product_id, offers in self.products.items():
            kept = []
            for offer in offers:
                offer.price = max(
                    1, offer.price + rng.randint(-offer.price // 20, offer.price // 20)
                )
                offer.items_in_stock -= rng.randint(0, 3)
                if offer.items_in_stock > 0:
                    kept.append(offer)
            self.products[product_id] = kept or self.new_offers(rng)

    def maybe_tick(self) -> None:
        now = time.monotonic()
        if now - self.last_tick >= self.tick_seconds:
            self.last_tick = now
            self.advance()


class _Handler(BaseHTTPRequestHandler):
    server: SimServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, payload: Any = None, raw: bytes | None = None) -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except ValueError:
            return None

    def do_POST(self) -> None:
        state = self.server.state
        body = self._body()
        if state.delay:
            time.sleep(state.delay)
        with state.lock:
            if self.path == "/auth":
                if "Bearer" not in self.headers:
                    return self._answer(422, {"detail": "missing Bearer header"})
                if self.headers["Bearer"] != state.refresh_token:
                    return self._answer(401, {"detail": "invalid refresh token"})
                token = state.issue_token()
                if token is None:
                    return self._answer(400, {"detail": "the access token has not expired"})
                return self._answer(201, {"access_token": token})
            if self.path == "/products/register":
                if not state.valid(self.headers.get("Bearer")):
                    return self._answer(401, {"detail": "invalid access token"})
                try:
                    product_id = str(uuid.UUID(str(body["id"])))
                    assert isinstance(body["name"], str) and isinstance(body["description"], str)
                except (KeyError, TypeError, ValueError, AssertionError):
                    return self._answer(422, {"detail": "invalid product"})
                if product_id in state.products:
                    return self._answer(409, {"detail": "already registered"})
                state.products[product_id] = state.new_offers(random.Random())  # noqa: S311
                return self._answer(201, {"id": product_id})
        self._answer(404, {"detail": "not found"})

    def do_GET(self) -> None:
        state = self.server.state
        if state.delay:
            time.sleep(state.delay)
        parts = self.path.strip("/").split("/")
        with state.lock:
            state.maybe_tick()
            if len(parts) != 3 or parts[0] != "products" or parts[2] != "offers":
                return self._answer(404, {"detail": "not found"})
            if not state.valid(self.headers.get("Bearer")):
                return self._answer(401, {"detail": "invalid access token"})
            try:
                product_id = str(uuid.UUID(parts[1]))
            except ValueError:
                return self._answer(422, {"detail": "invalid id"})
            fault = state.faults.get(product_id)
            if fault:
                return self._fault(fault)
            if product_id not in state.products:
                return self._answer(404, {"detail": "not registered"})
            offers = [vars(offer) for offer in state.products[product_id]]
        self._answer(200, offers)

    def _fault(self, fault: str) -> None:
        if fault in {"500", "429"}:
            return self._answer(int(fault), {"detail": "fault"})
        if fault == "json":
            return self._answer(200, raw=b"[{not json")
        if fault == "huge":
            return self._answer(200, raw=b"[" + b" " * 10_000_000 + b"]")
        if fault == "object":
            return self._answer(200, {"offers": []})
        if fault == "negative":
            return self._answer(200, [{"id": str(uuid.uuid4()), "price": -5, "items_in_stock": 1}])
        if fault == "float":
            return self._answer(200, [{"id": str(uuid.uuid4()), "price": 9.5, "items_in_stock": 1}])
        if fault == "duplicate":
            offer_id = str(uuid.uuid4())
            item = {"id": offer_id, "price": 100, "items_in_stock": 1}
            return self._answer(200, [item, item])
        if fault == "slow":
            time.sleep(30)
        return self._answer(500, {"detail": "fault"})


class SimServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: SimState, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.state = state

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
