"""When may a notification go out? Quiet hours, digest times and retry backoff; no ORM."""

from __future__ import annotations

import random
import zoneinfo
from datetime import UTC, datetime, time, timedelta, tzinfo

RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 6 * 3600


def zone(name: str) -> tzinfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


def _at(day: datetime, at: time, tz: tzinfo) -> datetime:
    # A wall time skipped by a daylight-saving jump resolves to the same instant after the jump.
    local = datetime(day.year, day.month, day.day, at.hour, at.minute, tzinfo=tz)
    return local.astimezone(UTC)


def quiet_until(
    now: datetime, start: time | None, end: time | None, zone_name: str
) -> datetime | None:
    """The end of the quiet period `now` falls in (UTC), or None when it is not quiet now.

    `start` and `end` are local wall times; `start > end` spans midnight (22:00-07:00).
    Equal times mean no quiet hours.
    """
    if start is None or end is None or start == end:
        return None
    tz = zone(zone_name)
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if start < end:
        if start <= clock < end:
            return _at(today, end, tz)
        return None
    if clock >= start:
        return _at(today + timedelta(days=1), end, tz)
    if clock < end:
        return _at(today, end, tz)
    return None


def next_digest_at(
    now: datetime, hour: int, zone_name: str, start: time | None = None, end: time | None = None
) -> datetime:
    """The next digest time strictly after `now` (UTC), moved past quiet hours if it falls in."""
    tz = zone(zone_name)
    local = now.astimezone(tz)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    candidate = _at(today, time(hour), tz)
    if candidate <= now:
        candidate = _at(today + timedelta(days=1), time(hour), tz)
    return quiet_until(candidate, start, end, zone_name) or candidate


def release_at(now: datetime, *, start: time | None, end: time | None, zone_name: str) -> datetime:
    """When a notification created `now` may be sent: now, or when quiet hours end."""
    return quiet_until(now, start, end, zone_name) or now


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with jitter after `attempts` failed attempts (1, 2, ...).

    Steps of 30 s, 60 s, 2 min, ... capped at 6 h; the delay is drawn between half the step and
    the whole step, so a thousand failures do not come back at the same second.
    """
    ceiling = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    chooser = rng or random
    return timedelta(seconds=ceiling / 2 + chooser.uniform(0, ceiling / 2))
