"""The tracking dispatcher: the database is the schedule.

Every few seconds (registered in `core.dispatchers`) it claims the watchlists that are due, marks
their pages due (a page on a thousand lists is one row, fetched once) and moves each list to its
next run; then it leases due pages and enqueues `check_pages` in chunks, spread over a few
seconds. A lost task leaves its page due, leased again once the lease runs out: at-least-once.
Claims repeat their condition in the UPDATE (and use SKIP LOCKED on PostgreSQL), so two
dispatchers never take the same row.
"""

from __future__ import annotations

import logging
import random
import zoneinfo
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from pricewatch.tracking import schedule as schedules
from pricewatch.tracking import tasks
from pricewatch.tracking.models import Page, WatchItem, Watchlist

logger = logging.getLogger(__name__)

CHECK_CHUNK = 50
# Bound variables per statement stay far below SQLite's and PostgreSQL's limits.
ID_CHUNK = 2000
MAX_LISTS_PER_TICK = 10_000
# Leasing more than the workers can finish within the lease would only make leases run out
# while their tasks still wait in the queue (and enqueue them twice). The rest waits a tick.
DEFAULT_MAX_PAGES_PER_TICK = 5_000


def _skip_locked() -> bool:
    return bool(connection.features.has_select_for_update_skip_locked)


def _max_pages() -> int:
    return int(getattr(settings, "TRACKING_DISPATCH_MAX_PAGES", DEFAULT_MAX_PAGES_PER_TICK))


def _chunks(ids: Sequence[int], size: int) -> list[list[int]]:
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]


ScheduleKey = tuple[str, tuple[str, ...], tuple[int, ...], str, int | None]


def build_schedule(key: ScheduleKey) -> schedules.Schedule:
    kind, times, weekdays, zone, interval = key
    if kind == Watchlist.ScheduleKind.INTERVAL and interval:
        return schedules.Schedule(time_zone=zone, interval_minutes=interval)
    return schedules.Schedule(
        time_zone=zone,
        times=schedules.parse_times(times or ("09:00",)),
        weekdays=frozenset(weekdays),
    )


def _key(
    kind: str,
    times: list[str] | None,
    weekdays: list[int] | None,
    zone: str,
    owner_zone: str,
    interval: int | None,
) -> ScheduleKey:
    return (kind, tuple(times or ()), tuple(weekdays or ()), zone or owner_zone or "UTC", interval)


def _watchlist_key(watchlist: Watchlist) -> ScheduleKey:
    return _key(
        watchlist.schedule_kind,
        watchlist.times,
        watchlist.weekdays,
        watchlist.time_zone,
        watchlist.owner.time_zone,
        watchlist.interval_minutes,
    )


def watchlist_schedule(watchlist: Watchlist) -> schedules.Schedule:
    """A watchlist's schedule; its zone is the owner's unless the list names one."""
    return build_schedule(_watchlist_key(watchlist))


def _next_after(key: ScheduleKey, after: datetime, pk: int | None = None) -> datetime:
    """The next run after `after`; a broken schedule (bad zone in old rows) waits a day
    rather than stopping the dispatcher."""
    try:
        return schedules.next_run(build_schedule(key), after)
    except (schedules.InvalidSchedule, zoneinfo.ZoneInfoNotFoundError, ValueError):
        logger.warning("watchlist %s has an unusable schedule; retrying in a day", pk)
        return after + timedelta(days=1)


def next_due(watchlist: Watchlist, after: datetime) -> datetime:
    return _next_after(_watchlist_key(watchlist), after, watchlist.pk)


def claim_due_watchlists(now: datetime, *, limit: int = MAX_LISTS_PER_TICK) -> list[int]:
    """Claim due lists, move their `next_due_at` on, mark their pages due; returns list ids."""
    with transaction.atomic():
        query = Watchlist.objects.filter(next_due_at__lte=now, paused=False).order_by("next_due_at")
        if _skip_locked():
            query = query.select_for_update(skip_locked=True, of=("self",))
        rows = list(
            query.values_list(
                "pk",
                "schedule_kind",
                "times",
                "weekdays",
                "time_zone",
                "owner__time_zone",
                "interval_minutes",
            )[:limit]
        )
        if not rows:
            return []
        # Lists mostly share a few schedules ("09:00 in Berlin"): compute each one once.
        memo: dict[ScheduleKey, datetime] = {}
        by_next: dict[datetime, list[int]] = defaultdict(list)
        for pk, kind, times, weekdays, zone, owner_zone, interval in rows:
            key = _key(kind, times, weekdays, zone, owner_zone, interval)
            if key not in memo:
                memo[key] = _next_after(key, now, pk)
            by_next[memo[key]].append(pk)
        claimed: list[int] = []
        for next_at, ids in by_next.items():
            for chunk in _chunks(ids, ID_CHUNK):
                # Repeating the claim condition makes this safe without row locks too: a list
                # another dispatcher moved on in between no longer matches.
                updated = Watchlist.objects.filter(
                    pk__in=chunk, next_due_at__lte=now, paused=False
                ).update(next_due_at=next_at, last_run_at=now)
                if updated == len(chunk):
                    claimed.extend(chunk)
                else:
                    claimed.extend(
                        Watchlist.objects.filter(
                            pk__in=chunk, next_due_at=next_at, last_run_at=now
                        ).values_list("pk", flat=True)
                    )
        for chunk in _chunks(claimed, ID_CHUNK):
            Page.objects.filter(
                due_at__isnull=True,
                offer_id__in=WatchItem.objects.filter(watchlist_id__in=chunk).values("offer_id"),
            ).update(due_at=now)
    return claimed


def lease_pages(page_ids: Sequence[int], now: datetime) -> list[int]:
    """Lease the given pages that are not leased (or whose lease ran out); returns those taken.

    Leasing also marks them due, so a lost task is picked up by the dispatcher later.
    """
    lease_until = now + timedelta(seconds=settings.TRACKING_CHECK_LEASE_SECONDS)
    free = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    taken: list[int] = []
    with transaction.atomic():
        for chunk in _chunks(list(page_ids), ID_CHUNK):
            query = Page.objects.filter(free, pk__in=chunk)
            if _skip_locked():
                chunk = list(
                    query.select_for_update(skip_locked=True)
                    .order_by()
                    .values_list("pk", flat=True)
                )
            taken.extend(_conditional_lease(chunk, now, lease_until, mark_due=True))
    return taken


def claim_due_pages(now: datetime, *, limit: int) -> list[int]:
    """Lease up to `limit` due pages whose lease is empty or has run out, oldest due first."""
    lease_until = now + timedelta(seconds=settings.TRACKING_CHECK_LEASE_SECONDS)
    free = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    with transaction.atomic():
        query = Page.objects.filter(free, due_at__lte=now).order_by("due_at")
        if _skip_locked():
            query = query.select_for_update(skip_locked=True)
        ids = list(query.values_list("pk", flat=True)[:limit])
        taken: list[int] = []
        for chunk in _chunks(ids, ID_CHUNK):
            taken.extend(_conditional_lease(chunk, now, lease_until))
    return taken


def _conditional_lease(
    ids: list[int], now: datetime, lease_until: datetime, *, mark_due: bool = False
) -> list[int]:
    if not ids:
        return []
    free = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    changes: dict[str, Any] = {"leased_until": lease_until}
    if mark_due:
        changes["due_at"] = now
    updated = Page.objects.filter(free, pk__in=ids).update(**changes)
    if updated == len(ids):
        return ids
    # Someone else leased some of them in between: ours are those carrying our exact lease.
    return list(
        Page.objects.filter(pk__in=ids, leased_until=lease_until).values_list("pk", flat=True)
    )


def enqueue_checks(page_ids: Sequence[int], trigger: str, *, jitter: float = 0.0) -> int:
    """Send `check_pages` tasks for `page_ids` in chunks; returns the number of tasks sent.

    Called after commit, so the worker sees the lease. `jitter` spreads the chunks over that
    many seconds.
    """
    sent = 0
    # One broker connection for the whole batch instead of one per message.
    with tasks.check_pages.app.producer_or_acquire() as producer:
        for chunk in _chunks(list(page_ids), CHECK_CHUNK):
            if jitter > 0:
                countdown = round(random.uniform(0, jitter), 2)  # noqa: S311
                tasks.check_pages.apply_async(
                    (chunk, trigger), countdown=countdown, producer=producer
                )
            else:
                tasks.check_pages.apply_async((chunk, trigger), producer=producer)
            sent += 1
    return sent


def enqueue_first_check(page_id: int) -> None:
    tasks.check_page.delay(page_id, "first")


def dispatch_due(*, now: datetime | None = None, max_pages: int | None = None) -> dict[str, Any]:
    """One tick: claim due lists, mark their pages due, lease and enqueue due pages."""
    now = now or timezone.now()
    limit = _max_pages() if max_pages is None else max_pages
    lists = claim_due_watchlists(now)
    pages = claim_due_pages(now, limit=limit)
    tasks_sent = 0
    if pages:
        jitter = float(getattr(settings, "DISPATCH_INTERVAL_SECONDS", 5.0))
        tasks_sent = (len(pages) + CHECK_CHUNK - 1) // CHECK_CHUNK

        def send() -> None:
            enqueue_checks(pages, "schedule", jitter=jitter)

        transaction.on_commit(send)
    return {"watchlists": len(lists), "pages": len(pages), "tasks": tasks_sent}
