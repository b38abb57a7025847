"""The offers service's public API, spoken over HTTP with a capped body and a shared token.

The access token lives in the Django cache, so every worker uses the same one (the service hands
out a new one only after the old one expired); a 401 drops it and authenticates once more.
The base URL is the admin's setting, not user input: it may be 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.core.cache import cache

TOKEN_KEY = "offers:access_token"  # noqa: S105 - a cache key, not a secret
TOKEN_SECONDS = 290  # the service's tokens last 5 minutes
MAX_BODY = 1_000_000
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class OffersError(Exception):
    """The service refused or failed; `retry` says whether trying later can help."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


class AuthError(OffersError):
    pass


@dataclass(frozen=True, slots=True)
class ServiceOfferData:
    id: uuid.UUID
    price: int
    items_in_stock: int


def enabled() -> bool:
    return bool(settings.OFFERS_BASE_URL)


def parse_offers(payload: Any) -> list[ServiceOfferData]:
    """Validate an offers answer; refuse it whole rather than record half of a bad answer."""
    if not isinstance(payload, list):
        raise OffersError("The offers answer is not a list.")
    offers: dict[uuid.UUID, ServiceOfferData] = {}
    for item in payload:
        if not isinstance(item, dict):
            raise OffersError("An offer is not an object.")
        price, stock = item.get("price"), item.get("items_in_stock")
        try:
            offer_id = uuid.UUID(str(item.get("id")))
        except ValueError:
            raise OffersError(f"An offer has an invalid id {item.get('id')!r}.") from None
        for name, value in (("price", price), ("items_in_stock", stock)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise OffersError(f"Offer {offer_id} has an invalid {name} {value!r}.")
        if offer_id in offers:
            raise OffersError(f"Offer {offer_id} appears twice in the answer.")
        assert isinstance(price, int) and isinstance(stock, int)
        offers[offer_id] = ServiceOfferData(offer_id, price, stock)
    return list(offers.values())


class Client:
    """One poll run's connection pool; use as `async with Client() as client`."""

    def __init__(self, base_url: str | None = None, refresh_token: str | None = None) -> None:
        self.base_url = (base_url or settings.OFFERS_BASE_URL).rstrip("/")
        self.refresh_token = (
            refresh_token if refresh_token is not None else settings.OFFERS_REFRESH_TOKEN
        )
        # One authentication at a time: the service refuses a second token while one is valid.
        self._auth_lock = asyncio.Lock()
        self._http = httpx.AsyncClient(
            timeout=TIMEOUT,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._http.aclose()

    async def _send(
        self, method: str, path: str, headers: dict[str, str], body: Any = None
    ) -> tuple[int, bytes]:
        try:
            async with self._http.stream(
                method, self.base_url + path, headers=headers, json=body
            ) as response:
                content = bytearray()
                async for chunk in response.aiter_bytes():
                    content += chunk
                    if len(content) > MAX_BODY:
                        raise OffersError(f"The answer is larger than {MAX_BODY} bytes.")
                return response.status_code, bytes(content)
        except httpx.TimeoutException:
            raise OffersError("The offers service timed out.") from None
        except httpx.HTTPError as error:
            raise OffersError(f"The offers service is unreachable ({error!r}).") from None

    async def _token(self) -> str:
        token = cache.get(TOKEN_KEY)
        if token:
            return str(token)
        async with self._auth_lock:
            return await self._authenticate()

    async def _authenticate(self) -> str:
        token = cache.get(TOKEN_KEY)  # a coroutine ahead of us in the lock may have got one
        if token:
            return str(token)
        status, content = await self._send("POST", "/auth", {"Bearer": self.refresh_token})
        if status == 400 and cache.get(TOKEN_KEY):  # another worker got it meanwhile
            return str(cache.get(TOKEN_KEY))
        if status != 201:
            raise AuthError(f"Authentication failed with HTTP {status}.", retry=status >= 500)
        try:
            token = json.loads(content)["access_token"]
        except (ValueError, KeyError, TypeError):
            raise AuthError("The auth answer has no access_token.") from None
        if not isinstance(token, str) or not token:
            raise AuthError("The auth answer has no access_token.")
        cache.set(TOKEN_KEY, token, TOKEN_SECONDS)
        return token

    async def _call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        token = await self._token()
        status, content = await self._send(method, path, {"Bearer": token}, body)
        if status == 401:
            # Expired or revoked: drop it (unless another worker already replaced it), once.
            if cache.get(TOKEN_KEY) == token:
                cache.delete(TOKEN_KEY)
            token = await self._token()
            status, content = await self._send(method, path, {"Bearer": token}, body)
            if status == 401:
                raise AuthError("The offers service refused a fresh access token.")
        return status, content

    async def register(self, product_id: uuid.UUID, name: str, description: str) -> None:
        body = {"id": str(product_id), "name": name, "description": description}
        status, _ = await self._call("POST", "/products/register", body)
        if status in {201, 409}:  # 409: registered before, which is what we want
            return
        raise OffersError(f"Registration answered HTTP {status}.", retry=status != 422)

    async def offers(self, product_id: uuid.UUID) -> list[ServiceOfferData]:
        status, content = await self._call("GET", f"/products/{product_id}/offers")
        if status != 200:
            raise OffersError(f"The offers request answered HTTP {status}.")
        try:
            payload = json.loads(content)
        except ValueError:
            raise OffersError("The offers answer is not valid JSON.") from None
        return parse_offers(payload)
