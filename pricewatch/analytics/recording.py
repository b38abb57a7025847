"""Counting a view or a beacon during a request: checks in memory and the cache, one buffer append.

Nothing here writes to the database (the day's salt is made ahead by the worker).
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from pricewatch.analytics import buffer, visitors

SESSION_COOKIE = "pw_vs"
_SESSION = re.compile(r"[0-9a-f]{1,32}")
_KEY = re.compile(r"[0-9a-f]{32}")


def _today() -> datetime:
    return datetime.now(UTC)


def record_view(request: HttpRequest, *, product_id: int, source: str = "web") -> str | None:
    """The visit key for this view (an earlier one for a quick reload), or None if not counted."""
    if not settings.ANALYTICS_ENABLED or visitors.opted_out(request):
        return None
    if visitors.is_prefetch(request):
        return None
    user_agent = request.headers.get("User-Agent", "")[:512]
    if visitors.is_bot(user_agent):
        return None
    now = _today()
    address = visitors.client_address(request)
    visitor = visitors.visitor_id(address=address, user_agent=user_agent, day=now.date())
    # Cache entries carry their own times: the cache's expiry only collects garbage, so the
    # rules read the same on Redis and in local memory (and under a patched clock in tests).
    now_seconds = time.time()
    seen_key = f"analytics:seen:{visitor}:{product_id}"
    earlier = cache.get(seen_key)
    if earlier is not None and now_seconds - earlier[1] < settings.ANALYTICS_RELOAD_SECONDS:
        return str(earlier[0])
    # One address rotating user agents is still one flood: its views per minute are capped.
    minute = int(now_seconds // 60)
    flood_key = f"analytics:flood:{minute}:" + visitors.visitor_id(
        address=address, user_agent="", day=now.date()
    )
    cache.add(flood_key, 0, 120)
    try:
        if cache.incr(flood_key) > settings.ANALYTICS_MAX_VIEWS_PER_ADDRESS_PER_MINUTE:
            return None
    except ValueError:
        pass  # expired between add and incr: let this one through
    key = secrets.token_hex(16)
    cache.set(seen_key, (key, now_seconds), settings.ANALYTICS_RELOAD_SECONDS + 1)
    cache.set(_visit_entry(key), (visitor, now_seconds), _timeout_seconds())
    session = request.COOKIES.get(SESSION_COOKIE, "")
    buffer.push(
        {
            "t": "view",
            "key": key,
            "product": product_id,
            "visitor": visitor,
            "session": session if _SESSION.fullmatch(session) else "",
            "referrer": visitors.referrer_host(request),
            "agent": visitors.agent_family(user_agent),
            "source": source,
            "at": now_seconds,
        }
    )
    return key


class BeaconRefused(Exception):
    """The beacon is ignored; `status` says how the API answers."""

    def __init__(self, detail: str, status: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


def record_beacon(request: HttpRequest, *, key: str) -> None:
    """A heartbeat or leave beacon for visit `key` from the visitor who started it.

    The client sends no duration: the worker measures it from the beacons' arrival times, so
    negative or huge durations cannot be forged.
    """
    if not _KEY.fullmatch(key):
        raise BeaconRefused("No such visit.", 404)
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in {"same-origin", "none"}:
        raise BeaconRefused("Beacons are accepted from this site's pages only.", 403)
    now_seconds = time.time()
    entry = cache.get(_visit_entry(key))
    if entry is None or now_seconds - entry[1] > _timeout_seconds():
        raise BeaconRefused("No such visit, or it has ended.", 404)
    owner = entry[0]
    user_agent = request.headers.get("User-Agent", "")[:512]
    visitor = visitors.visitor_id(
        address=visitors.client_address(request), user_agent=user_agent, day=_today().date()
    )
    if visitor != owner:
        # Same answer as an unknown key: a forger learns nothing about other visits.
        raise BeaconRefused("No such visit, or it has ended.", 404)
    last_beat = cache.get(f"analytics:beat:{key}")
    if last_beat is not None and now_seconds - last_beat < settings.ANALYTICS_BEACON_MIN_SECONDS:
        raise BeaconRefused("Too many beacons for this visit.", 429)
    cache.set(f"analytics:beat:{key}", now_seconds, settings.ANALYTICS_BEACON_MIN_SECONDS + 1)
    cache.set(_visit_entry(key), (owner, now_seconds), _timeout_seconds())
    buffer.push({"t": "beat", "key": key, "visitor": visitor, "at": now_seconds})


def _visit_entry(key: str) -> str:
    return f"analytics:visit:{key}"


def _timeout_seconds() -> int:
    return int(settings.ANALYTICS_VISIT_TIMEOUT_MINUTES * 60)
