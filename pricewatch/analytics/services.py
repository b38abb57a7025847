"""Writing buffered views and beacons in batches, and keeping the daily roll-ups in step."""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from pricewatch.analytics import buffer
from pricewatch.analytics.models import ProductDay, Salt, SiteDay, Visit, VisitorDay
from pricewatch.catalog.models import Product
from pricewatch.core import bulk

logger = logging.getLogger(__name__)

FLUSH_LOCK = "analytics:flush-lock"
PURGE_MARK = "analytics:purged"
SITE = 0
ROLLUP_COLUMNS = ("views", "visitors", "duration_seconds", "bounces")


@dataclass
class DayCounts:
    views: int = 0
    visitors: int = 0
    duration_seconds: int = 0
    bounces: int = 0


@dataclass(frozen=True)
class FlushReport:
    views: int
    beacons: int


def flush_on_tick() -> dict[str, int] | None:
    """The dispatcher's tick: salts ready for tomorrow, the buffer written, old rows purged."""
    ensure_salts()
    report = flush()
    if cache.add(PURGE_MARK, 1, 3600):
        purge()
    return None if report is None else {"views": report.views, "beacons": report.beacons}


def ensure_salts(today: date | None = None) -> None:
    today = today or timezone.now().astimezone(UTC).date()
    for day in (today, today + timedelta(days=1)):
        Salt.objects.get_or_create(day=day, defaults={"value": secrets.token_hex(32)})


def flush(*, include_open: bool = False) -> FlushReport | None:
    """Write every waiting event; None when another worker is already flushing."""
    if not cache.add(FLUSH_LOCK, 1, 300):
        return None
    views = beacons = 0
    try:
        for batch in buffer.drain(include_open=include_open):
            with transaction.atomic():
                views += write_views([event for event in batch if event.get("t") == "view"])
                beacons += apply_beacons([event for event in batch if event.get("t") == "beat"])
    finally:
        cache.delete(FLUSH_LOCK)
    return FlushReport(views=views, beacons=beacons)


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def write_views(events: Sequence[dict]) -> int:
    """Insert the visits and add them to the roll-ups; returns how many were new."""
    if not events:
        return 0
    product_ids = {int(event["product"]) for event in events}
    existing = set(Product.objects.filter(pk__in=product_ids).values_list("pk", flat=True))
    keys = [event["key"] for event in events]
    known_keys = set(Visit.objects.filter(key__in=keys).values_list("key", flat=True))
    fresh: dict[str, dict] = {}
    for event in events:
        if int(event["product"]) in existing and event["key"] not in known_keys:
            fresh.setdefault(event["key"], event)
    if not fresh:
        return 0
    adapt = bulk.adapt_datetimes()
    rows = []
    for event in fresh.values():
        started = adapt(_moment(event["at"]))
        rows.append(
            [
                event["key"],
                int(event["product"]),
                event["visitor"],
                event.get("session", "")[:32],
                event.get("referrer", "")[:255],
                event.get("agent", "")[:64],
                event.get("source", "web")[:8],
                started,
                started,
                0,
                True,
            ]
        )
    bulk.insert(
        Visit,
        [
            "key",
            "product_id",
            "visitor",
            "session",
            "referrer_host",
            "agent_family",
            "source",
            "started_at",
            "last_seen_at",
            "duration_seconds",
            "bounced",
        ],
        rows,
        on_conflict=bulk.OnConflict(("key",)),
    )
    products: dict[tuple[int, date], DayCounts] = defaultdict(DayCounts)
    site: dict[date, DayCounts] = defaultdict(DayCounts)
    pairs: set[tuple[date, str, int]] = set()
    for event in fresh.values():
        day = _moment(event["at"]).date()
        product = int(event["product"])
        for counts in (products[product, day], site[day]):
            counts.views += 1
            counts.bounces += 1
        pairs.add((day, event["visitor"], product))
        pairs.add((day, event["visitor"], SITE))
    for day, _visitor, product in _new_visitor_days(pairs):
        (site[day] if product == SITE else products[product, day]).visitors += 1
    _add_to_rollups(products, site)
    return len(fresh)


def _new_visitor_days(pairs: set[tuple[date, str, int]]) -> list[tuple[date, str, int]]:
    """The (day, visitor, product) pairs not counted before, now remembered as counted."""
    visitors = sorted({visitor for _day, visitor, _product in pairs})
    days = {day for day, _visitor, _product in pairs}
    seen: set[tuple[date, str, int]] = set()
    for chunk in bulk.chunks(visitors):
        seen.update(
            VisitorDay.objects.filter(visitor__in=chunk, day__in=days).values_list(
                "day", "visitor", "product_id"
            )
        )
    new = sorted(pairs - seen)
    bulk.insert(
        VisitorDay,
        ["day", "visitor", "product_id"],
        [[bulk.adapt_date(day), visitor, product] for day, visitor, product in new],
        on_conflict=bulk.OnConflict(("day", "visitor", "product_id")),
    )
    return new


def _adding(columns: Iterable[str]) -> dict[str, str]:
    return {column: f"{{table}}.{column} + excluded.{column}" for column in columns}


def _add_to_rollups(
    products: dict[tuple[int, date], DayCounts], site: dict[date, DayCounts]
) -> None:
    def values(counts: DayCounts) -> list[int]:
        return [counts.views, counts.visitors, counts.duration_seconds, counts.bounces]

    bulk.insert(
        ProductDay,
        ["product_id", "day", *ROLLUP_COLUMNS],
        [[product, bulk.adapt_date(day), *values(c)] for (product, day), c in products.items()],
        on_conflict=bulk.OnConflict(("product_id", "day"), _adding(ROLLUP_COLUMNS)),
    )
    bulk.insert(
        SiteDay,
        ["day", *ROLLUP_COLUMNS],
        [[bulk.adapt_date(day), *values(c)] for day, c in site.items()],
        on_conflict=bulk.OnConflict(("day",), _adding(ROLLUP_COLUMNS)),
    )


def apply_beacons(events: Sequence[dict]) -> int:
    """Extend visits to their latest beacon; returns how many visits changed.

    A beacon more than the inactivity timeout after the visit's last sign of life, or from
    another visitor id, is ignored; durations are capped at `ANALYTICS_MAX_VISIT_MINUTES`.
    """
    if not events:
        return 0
    by_key: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        by_key[event["key"]].append(event)
    visits = {
        visit.key: visit
        for chunk in bulk.chunks(sorted(by_key))
        for visit in Visit.objects.filter(key__in=chunk).only(
            "key",
            "product_id",
            "visitor",
            "started_at",
            "last_seen_at",
            "duration_seconds",
            "bounced",
        )
    }
    timeout = timedelta(minutes=settings.ANALYTICS_VISIT_TIMEOUT_MINUTES)
    cap = settings.ANALYTICS_MAX_VISIT_MINUTES * 60
    engaged_after = settings.ANALYTICS_ENGAGED_SECONDS
    products: dict[tuple[int, date], DayCounts] = defaultdict(DayCounts)
    site: dict[date, DayCounts] = defaultdict(DayCounts)
    changed: list[Visit] = []
    for key, beats in by_key.items():
        visit = visits.get(key)
        if visit is None:
            continue
        last_seen = visit.last_seen_at
        for beat in sorted(beats, key=lambda beat: beat["at"]):
            moment = _moment(beat["at"])
            if beat["visitor"] != visit.visitor or not last_seen < moment <= last_seen + timeout:
                continue
            last_seen = moment
        duration = min(cap, max(0, int((last_seen - visit.started_at).total_seconds())))
        if last_seen == visit.last_seen_at or duration < visit.duration_seconds:
            continue
        added = duration - visit.duration_seconds
        stops_bouncing = visit.bounced and duration >= engaged_after
        day = visit.started_at.astimezone(UTC).date()
        for counts in (products[visit.product_id, day], site[day]):
            counts.duration_seconds += added
            counts.bounces -= int(stops_bouncing)
        visit.last_seen_at, visit.duration_seconds = last_seen, duration
        visit.bounced = visit.bounced and not stops_bouncing
        changed.append(visit)
    bulk.save_fields(changed, ["last_seen_at", "duration_seconds", "bounced"])
    _add_to_rollups(products, site)
    return len(changed)


def purge(now: datetime | None = None) -> None:
    """Delete salts after 48 h, the visitor-day memory after two days, visits past retention."""
    now = now or timezone.now()
    Salt.objects.filter(created_at__lt=now - timedelta(hours=48)).delete()
    VisitorDay.objects.filter(day__lt=(now - timedelta(days=2)).date()).delete()
    retained = now - timedelta(days=settings.ANALYTICS_RETENTION_DAYS)
    Visit.objects.filter(started_at__lt=retained).delete()
