"""Who is visiting: the client address behind trusted proxies, the daily visitor id, bots.

The address is used only as HMAC input here and never leaves this module.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
from datetime import date
from urllib.parse import urlsplit

from crawlerdetect import CrawlerDetect
from django.conf import settings
from django.http import HttpRequest

from pricewatch.analytics.models import Salt

_salts: dict[date, str] = {}
_salts_lock = threading.Lock()
_crawlers = threading.local()


def _trusted_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(
        ipaddress.ip_network(entry, strict=False) for entry in settings.ANALYTICS_TRUSTED_PROXIES
    )


def _is_trusted(address: str) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in _trusted_networks())


def client_address(request: HttpRequest) -> str:
    """The peer, or the nearest untrusted X-Forwarded-For hop when the peer is a trusted proxy."""
    peer = request.META.get("REMOTE_ADDR", "")
    if not _is_trusted(peer):
        return peer
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not _is_trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return peer


def salt_for(day: date) -> str:
    """The day's salt: made ahead by the worker's tick, created here only if it did not run."""
    found = _salts.get(day)
    if found is not None:
        return found
    with _salts_lock:
        row = Salt.objects.filter(day=day).first()
        if row is None:
            row, _ = Salt.objects.get_or_create(day=day, defaults={"value": secrets.token_hex(32)})
        _salts.clear()  # yesterday's salt is no longer needed in this process
        _salts[day] = row.value
        return row.value


def visitor_id(*, address: str, user_agent: str, day: date) -> str:
    site = urlsplit(settings.SITE_URL).netloc
    key = f"{settings.SECRET_KEY}:{salt_for(day)}".encode()
    message = "\n".join((address, user_agent, site)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def is_bot(user_agent: str) -> bool:
    if not user_agent.strip():
        return True
    detector = getattr(_crawlers, "detector", None)
    if detector is None:
        detector = _crawlers.detector = CrawlerDetect()
    return bool(detector.isCrawler(user_agent))


def is_prefetch(request: HttpRequest) -> bool:
    purpose = request.headers.get("Sec-Purpose", "") or request.headers.get("Purpose", "")
    moz = request.headers.get("X-Moz", "")
    return "prefetch" in purpose.lower() or "prerender" in purpose.lower() or moz == "prefetch"


def opted_out(request: HttpRequest) -> bool:
    if not settings.ANALYTICS_RESPECT_DNT:
        return False
    return request.headers.get("DNT") == "1" or request.headers.get("Sec-GPC") == "1"


_FAMILIES = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
)


def agent_family(user_agent: str) -> str:
    """A coarse browser family (never the full string, which helps fingerprinting)."""
    for marker, family in _FAMILIES:
        if marker in user_agent:
            return family
    return "Other"


def referrer_host(request: HttpRequest) -> str:
    referrer = request.headers.get("Referer", "")
    try:
        return (urlsplit(referrer).hostname or "")[:255]
    except ValueError:
        return ""
