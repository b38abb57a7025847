"""Schedules: times of day on weekdays in a zone (DST-proof), or an interval."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricewatch.tracking.schedule import (
    InvalidSchedule,
    Schedule,
    format_times,
    local_instant,
    next_run,
    next_runs,
    parse_interval,
    parse_time_zone,
    parse_times,
    parse_weekdays,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def daily(*times: str, zone: str = "Europe/Berlin", weekdays: set[int] | None = None) -> Schedule:
    return Schedule(time_zone=zone, times=parse_times(times), weekdays=frozenset(weekdays or set()))


def test_runs_at_the_local_time_every_day() -> None:
    after = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)  # 13:00 in Berlin (CET, +1)

    runs = next_runs(daily("09:00"), after, 3)

    assert runs == [
        datetime(2026, 1, 11, 8, 0, tzinfo=UTC),
        datetime(2026, 1, 12, 8, 0, tzinfo=UTC),
        datetime(2026, 1, 13, 8, 0, tzinfo=UTC),
    ]


def test_several_times_a_day_in_order_and_strictly_after() -> None:
    after = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)  # exactly 09:00 Berlin: not "after"

    runs = next_runs(daily("18:30", "09:00"), after, 3)

    assert [run.astimezone(BERLIN).strftime("%d %H:%M") for run in runs] == [
        "10 18:30",
        "11 09:00",
        "11 18:30",
    ]


def test_weekdays_only() -> None:
    friday_evening = datetime(2026, 1, 9, 20, 0, tzinfo=UTC)  # Friday

    runs = next_runs(daily("09:00", weekdays={1, 3}), friday_evening, 3)

    assert [run.astimezone(BERLIN).strftime("%a %d") for run in runs] == [
        "Mon 12",
        "Wed 14",
        "Mon 19",
    ]


def test_single_weekday_far_ahead() -> None:
    runs = next_runs(daily("07:15", weekdays={7}), datetime(2026, 1, 5, tzinfo=UTC), 10)
    assert len(runs) == 10
    assert all(run.astimezone(BERLIN).isoweekday() == 7 for run in runs)
    assert all(later - earlier == timedelta(days=7) for earlier, later in pairwise(runs))


def test_local_time_stays_the_same_across_daylight_saving_changes() -> None:
    # Europe/Berlin goes to summer time on 29 March 2026 and back on 25 October 2026.
    runs = next_runs(daily("09:00"), datetime(2026, 3, 27, 12, 0, tzinfo=UTC), 4)
    assert [run.astimezone(BERLIN).strftime("%d %H:%M %Z") for run in runs] == [
        "28 09:00 CET",
        "29 09:00 CEST",
        "30 09:00 CEST",
        "31 09:00 CEST",
    ]
    assert runs[1] - runs[0] == timedelta(hours=23)

    runs = next_runs(daily("09:00"), datetime(2026, 10, 23, 12, 0, tzinfo=UTC), 2)
    assert runs[1] - runs[0] == timedelta(hours=25)


def test_a_time_skipped_by_spring_forward_runs_at_the_first_valid_instant_after() -> None:
    # 02:30 does not exist in Berlin on 29 March 2026: clocks jump from 02:00 to 03:00 CEST.
    before = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)

    runs = next_runs(daily("02:30"), before, 3)

    assert [run.astimezone(BERLIN).strftime("%d %H:%M %Z") for run in runs] == [
        "29 03:00 CEST",
        "30 02:30 CEST",
        "31 02:30 CEST",
    ]
    assert runs[0] == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_local_instant_in_the_gap_is_the_end_of_the_gap() -> None:
    instant = local_instant(datetime(2026, 3, 29).date(), time(2, 30), BERLIN)
    assert instant == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST
    new_york = local_instant(datetime(2026, 3, 8).date(), time(2, 0), NEW_YORK)
    assert new_york.astimezone(NEW_YORK).strftime("%H:%M %Z") == "03:00 EDT"


def test_two_times_in_the_gap_run_once() -> None:
    runs = next_runs(daily("02:15", "02:45", "03:00"), datetime(2026, 3, 29, tzinfo=UTC), 2)
    assert runs[0] == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert runs[1].astimezone(BERLIN).strftime("%d %H:%M") == "30 02:15"


def test_an_ambiguous_time_on_fall_back_runs_once_at_its_first_occurrence() -> None:
    # 02:30 happens twice in Berlin on 25 October 2026: first CEST (00:30 UTC), then CET.
    before = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)

    runs = next_runs(daily("02:30"), before, 3)

    assert runs[0] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert runs[1] == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)
    after_first = next_run(daily("02:30"), runs[0])
    assert after_first == runs[1]  # not the second 02:30 an hour later


def test_interval_schedule() -> None:
    after = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    schedule = Schedule(time_zone="UTC", interval_minutes=90)
    assert next_runs(schedule, after, 2) == [
        after + timedelta(minutes=90),
        after + timedelta(minutes=180),
    ]


def test_next_runs_needs_an_aware_time_and_bounds_the_count() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_run(daily("09:00"), datetime(2026, 1, 1))
    assert len(next_runs(daily("09:00"), datetime(2026, 1, 1, tzinfo=UTC), 10_000)) == 100


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([], "at least one time"),
        (["9:00"], "not a time of day"),
        (["24:00"], "not a time of day"),
        (["12:60"], "not a time of day"),
        (["noon"], "not a time of day"),
        ([930], "not a time of day"),
    ],
)
def test_bad_times_are_refused(values: list[str], message: str) -> None:
    with pytest.raises(InvalidSchedule, match=message) as raised:
        parse_times(values)
    assert raised.value.field == "times"


def test_times_are_sorted_and_distinct() -> None:
    assert format_times(parse_times(["18:30", "09:00", "18:30"])) == ["09:00", "18:30"]
    with pytest.raises(InvalidSchedule, match="At most 48"):
        parse_times([f"{hour:02d}:{minute:02d}" for hour in range(24) for minute in (0, 20, 40)])


@pytest.mark.parametrize("values", [[0], [8], [-1], ["1"], [True]])
def test_bad_weekdays_are_refused(values: list[int]) -> None:
    with pytest.raises(InvalidSchedule, match="not a weekday"):
        parse_weekdays(values)


def test_time_zones_must_be_iana_names() -> None:
    assert parse_time_zone("America/New_York") == "America/New_York"
    for bad in ("", "Mars/Olympus", "../etc/passwd"):
        with pytest.raises(InvalidSchedule) as raised:
            parse_time_zone(bad)
        assert raised.value.field == "time_zone"


def test_interval_bounds() -> None:
    assert parse_interval(5, minimum=5) == 5
    assert parse_interval(1, minimum=1) == 1
    with pytest.raises(InvalidSchedule, match="at least 5 minutes"):
        parse_interval(4, minimum=5)
    with pytest.raises(InvalidSchedule, match="at most"):
        parse_interval(60 * 24 * 32, minimum=5)
    with pytest.raises(InvalidSchedule, match="whole number"):
        parse_interval("5", minimum=5)  # type: ignore[arg-type]


ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]


@settings(max_examples=200, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    moments=st.lists(
        st.times().map(lambda t: t.replace(second=0, microsecond=0)), min_size=1, max_size=4
    ),
    weekdays=st.sets(st.integers(1, 7), max_size=7),
    after=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
)
def test_runs_are_increasing_after_the_start_and_on_allowed_days(
    zone: str, moments: list[time], weekdays: set[int], after: datetime
) -> None:
    schedule = Schedule(
        time_zone=zone, times=tuple(sorted(set(moments))), weekdays=frozenset(weekdays)
    )

    runs = next_runs(schedule, after, 5)

    assert len(runs) == 5
    assert runs[0] > after
    assert all(earlier < later for earlier, later in pairwise(runs))
    local_zone = ZoneInfo(zone)
    for run in runs:
        local = run.astimezone(local_zone)
        assert not weekdays or local.isoweekday() in weekdays
    # chaining next_run gives the same sequence
    chained, cursor = [], after
    for _ in range(5):
        cursor = next_run(schedule, cursor)
        chained.append(cursor)
    assert chained == runs
