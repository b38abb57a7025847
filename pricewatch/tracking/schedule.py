"""When a watchlist's pages are checked: times of day on weekdays in a time zone, or an interval.

Pure: no ORM. Times are wall-clock times in the schedule's IANA zone, so "09:00" stays 09:00
across daylight-saving changes. On the day the clocks go forward a time inside the gap (02:30
in Europe/Berlin) runs at the first valid instant after it (03:00 CEST); on the day they go back
a time that happens twice (02:30) runs once, at its first occurrence.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

MAX_TIMES = 48
MAX_INTERVAL_MINUTES = 31 * 24 * 60
MAX_PREVIEW = 100
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class InvalidSchedule(ValueError):
    """The schedule cannot be used; `field` names the part that is wrong."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class Schedule:
    """Either `times` (local "HH:MM" on `weekdays`, ISO 1-7, empty = every day) or
    `interval_minutes`."""

    time_zone: str = "UTC"
    times: tuple[time, ...] = ()
    weekdays: frozenset[int] = field(default_factory=frozenset)
    interval_minutes: int | None = None

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


def parse_time_zone(value: str) -> str:
    if not value or not isinstance(value, str):
        raise InvalidSchedule("A time zone is required, e.g. Europe/Berlin.", field="time_zone")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidSchedule(
            f"'{value}' is not an IANA time zone such as 'Europe/Berlin'.", field="time_zone"
        ) from exc
    return value


def parse_times(values: Iterable[str]) -> tuple[time, ...]:
    """ "HH:MM" strings (24-hour clock) to sorted, distinct times."""
    parsed: set[time] = set()
    for value in values:
        match = _TIME.match(value) if isinstance(value, str) else None
        if match is None:
            raise InvalidSchedule(
                f"'{value}' is not a time of day; use HH:MM on a 24-hour clock, e.g. 09:30.",
                field="times",
            )
        parsed.add(time(int(match.group(1)), int(match.group(2))))
    if not parsed:
        raise InvalidSchedule("Give at least one time of day, e.g. 09:00.", field="times")
    if len(parsed) > MAX_TIMES:
        raise InvalidSchedule(f"At most {MAX_TIMES} times of day per list.", field="times")
    return tuple(sorted(parsed))


def parse_weekdays(values: Iterable[int]) -> frozenset[int]:
    days = set()
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 7:
            raise InvalidSchedule(
                f"'{value}' is not a weekday; use 1 (Monday) to 7 (Sunday).", field="weekdays"
            )
        days.add(value)
    return frozenset(days)


def parse_interval(value: int, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSchedule("The interval is a whole number of minutes.", field="interval")
    if value < max(minimum, 1):
        raise InvalidSchedule(
            f"The interval must be at least {max(minimum, 1)} minutes.", field="interval"
        )
    if value > MAX_INTERVAL_MINUTES:
        raise InvalidSchedule(
            f"The interval must be at most {MAX_INTERVAL_MINUTES} minutes (31 days).",
            field="interval",
        )
    return value


def format_times(times: Sequence[time]) -> list[str]:
    return [moment.strftime("%H:%M") for moment in times]


def local_instant(day: date, moment: time, zone: zoneinfo.ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `moment` on `day` in `zone`.

    An ambiguous time (clocks going back) is its first occurrence; a time that does not exist
    (clocks going forward) is the first valid instant after it: the end of the gap.
    """
    naive = datetime.combine(day, moment)
    first = naive.replace(tzinfo=zone, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    # In the gap. fold=1 reads the time with the offset after the change, fold=0 with the one
    # before; the transition lies between the two instants. Find it to the second.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = instant
    if low > high:
        low, high = high, low
    after_offset = naive.replace(tzinfo=zone, fold=1).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == after_offset:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0) if high.microsecond else high


def next_run(schedule: Schedule, after: datetime) -> datetime:
    """The first run strictly after `after` (an aware datetime), in UTC."""
    return next_runs(schedule, after, 1)[0]


def next_runs(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    """The next `count` runs strictly after `after`, in UTC, in order."""
    if after.tzinfo is None:
        raise ValueError("`after` must be timezone-aware.")
    count = max(1, min(count, MAX_PREVIEW))
    after = after.astimezone(UTC)
    if schedule.interval_minutes:
        step = timedelta(minutes=schedule.interval_minutes)
        return [after + step * index for index in range(1, count + 1)]
    if not schedule.times:
        raise InvalidSchedule("A schedule needs times of day or an interval.", field="times")
    zone = schedule.zone
    day = after.astimezone(zone).date() - timedelta(days=1)
    runs: list[datetime] = []
    # At least one allowed weekday per week, so 8 days per run always suffice.
    for _ in range(count * 8 + 2):
        if not schedule.weekdays or day.isoweekday() in schedule.weekdays:
            found = sorted(
                {local_instant(day, moment, zone) for moment in schedule.times} - set(runs)
            )
            runs.extend(instant for instant in found if instant > after)
            if len(runs) >= count:
                break
        day += timedelta(days=1)
    return runs[:count]
