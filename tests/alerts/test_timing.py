"""Quiet hours, digest times and backoff, in the user's time zone, across DST."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

from pricewatch.alerts import timing


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_quiet_hours_spanning_midnight() -> None:
    # Berlin is UTC+1 in January: 23:30 local is 22:30 UTC; quiet until 07:00 local = 06:00 UTC
    assert timing.quiet_until(utc(2026, 1, 10, 22, 30), time(22), time(7), "Europe/Berlin") == utc(
        2026, 1, 11, 6, 0
    )
    # 05:00 local (04:00 UTC) is still quiet, until 06:00 UTC the same day
    assert timing.quiet_until(utc(2026, 1, 10, 4, 0), time(22), time(7), "Europe/Berlin") == utc(
        2026, 1, 10, 6, 0
    )
    # noon is not quiet
    assert timing.quiet_until(utc(2026, 1, 10, 11), time(22), time(7), "Europe/Berlin") is None


def test_quiet_hours_within_a_day_and_switched_off() -> None:
    assert timing.quiet_until(utc(2026, 1, 10, 13), time(12), time(14), "UTC") == utc(
        2026, 1, 10, 14
    )
    assert timing.quiet_until(utc(2026, 1, 10, 14), time(12), time(14), "UTC") is None
    assert timing.quiet_until(utc(2026, 1, 10, 13), None, None, "UTC") is None
    assert timing.quiet_until(utc(2026, 1, 10, 13), time(9), time(9), "UTC") is None


def test_quiet_hours_end_across_a_daylight_saving_change() -> None:
    # Night of 28-29 March 2026 in Berlin: clocks go from 02:00 to 03:00 (UTC+1 -> UTC+2)
    end = timing.quiet_until(utc(2026, 3, 28, 22, 0), time(22), time(7), "Europe/Berlin")
    assert end == utc(2026, 3, 29, 5, 0)  # 07:00 summer time


def test_next_digest_is_the_next_local_hour_and_respects_quiet_hours() -> None:
    assert timing.next_digest_at(utc(2026, 1, 10, 6, 0), 8, "Europe/Berlin") == utc(2026, 1, 10, 7)
    assert timing.next_digest_at(utc(2026, 1, 10, 7, 0), 8, "Europe/Berlin") == utc(2026, 1, 11, 7)
    # a digest hour inside quiet hours waits for their end
    assert timing.next_digest_at(utc(2026, 1, 10, 12), 23, "UTC", time(22), time(7)) == utc(
        2026, 1, 11, 7
    )


def test_unknown_zone_falls_back_to_utc() -> None:
    assert timing.quiet_until(utc(2026, 1, 10, 23), time(22), time(7), "Mars/Olympus") == utc(
        2026, 1, 11, 7
    )


def test_retry_delay_grows_exponentially_and_is_capped() -> None:
    rng = random.Random(1)
    delays = [timing.retry_delay(attempt, rng) for attempt in range(1, 15)]
    assert timedelta(seconds=15) <= delays[0] <= timedelta(seconds=30)
    assert timedelta(seconds=60) <= delays[3] <= timedelta(seconds=240)
    assert max(delays) <= timedelta(hours=6)
    assert delays[-1] >= timedelta(hours=3)
