"""The dispatcher: due lists mark their pages due once, pages are leased and sent in chunks,
a lost task is sent again after its lease runs out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import override_settings

from pricewatch.tracking import dispatch
from pricewatch.tracking.models import Page, Watchlist
from tests.accounts.factories import UserFactory
from tests.tracking.factories import Enqueued, make_item, make_page, make_watchlist, record_enqueued

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 4, 7, 0, tzinfo=UTC)  # Monday 09:00 in Berlin (CEST)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Enqueued:
    return record_enqueued(monkeypatch)


def tick(capture: Any, **kwargs: Any) -> dict[str, Any]:
    with capture(execute=True):
        return dispatch.dispatch_due(**kwargs)


def test_a_due_list_marks_its_pages_due_sends_them_and_moves_on(
    sent: Enqueued, django_capture_on_commit_callbacks: Any
) -> None:
    # given a list due now with two pages, and a list due later
    owner = UserFactory(time_zone="Europe/Berlin")
    due = make_watchlist(owner, times=["09:00"], next_due_at=NOW)
    later = make_watchlist(owner, times=["09:00"], next_due_at=NOW + timedelta(hours=1))
    first, second, other = make_page(), make_page(), make_page()
    make_item(due, first)
    make_item(due, second)
    make_item(later, other)

    # when the dispatcher ticks
    with time_machine.travel(NOW, tick=False):
        summary = tick(django_capture_on_commit_callbacks)

    # then the due list's pages are leased and sent, once, with the schedule trigger
    assert summary == {"watchlists": 1, "pages": 2, "tasks": 1}
    assert sorted(sent.page_ids) == sorted([first.pk, second.pk])
    assert {trigger for _, trigger, _ in sent.batches} == {"schedule"}
    lease = NOW + timedelta(seconds=600)
    assert set(Page.objects.filter(leased_until=lease).values_list("pk", flat=True)) == {
        first.pk,
        second.pk,
    }
    assert Page.objects.get(pk=other.pk).due_at is None
    # and the list's next run is tomorrow 09:00 Berlin time
    due.refresh_from_db()
    assert due.next_due_at == NOW + timedelta(days=1)
    assert due.last_run_at == NOW


def test_a_page_on_many_lists_is_sent_once(
    sent: Enqueued, django_capture_on_commit_callbacks: Any
) -> None:
    shared = make_page()
    for _ in range(5):
        make_item(make_watchlist(next_due_at=NOW - timedelta(minutes=1)), shared)

    with time_machine.travel(NOW, tick=False):
        summary = tick(django_capture_on_commit_callbacks)

    assert summary["watchlists"] == 5
    assert sent.page_ids == [shared.pk]


def test_paused_lists_and_catalog_items_are_not_fetched(
    sent: Enqueued, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.pricing.factories import make_offer

    paused = make_watchlist(next_due_at=NOW, paused=True)
    make_item(paused, make_page())
    active = make_watchlist(next_due_at=NOW)
    make_item(active, make_offer(kind="catalog", price="10.00"))

    with time_machine.travel(NOW, tick=False):
        summary = tick(django_capture_on_commit_callbacks)

    assert summary == {"watchlists": 1, "pages": 0, "tasks": 0}
    assert sent.batches == []


def test_pages_are_sent_in_chunks_of_at_most_50_with_jitter(
    sent: Enqueued, django_capture_on_commit_callbacks: Any
) -> None:
    watchlist = make_watchlist(next_due_at=NOW)
    pages = [make_page() for _ in range(120)]
    for page in pages:
        make_item(watchlist, page)

    with time_machine.travel(NOW, tick=False):
        tick(django_capture_on_commit_callbacks)

    assert [len(ids) for ids, _, _ in sent.batches] == [50, 50, 20]
    assert sorted(sent.page_ids) == sorted(page.pk for page in pages)
    assert all(countdown is not None and 0 <= countdown <= 5 for _, _, countdown in sent.batches)


def test_at_most_max_pages_per_tick_oldest_due_first(
    sent: Enqueued, django_capture_on_commit_callbacks: Any
) -> None:
    oldest = make_page(due_at=NOW - timedelta(hours=2))
    older = make_page(due_at=NOW - timedelta(hours=1))
    make_page(due_at=NOW - timedelta(minutes=1))

    with time_machine.travel(NOW, tick=False):
        summary = tick(django_capture_on_commit_callbacks, max_pages=2)
        rest = tick(django_capture_on_commit_callbacks, max_pages=2)

    assert summary["pages"] == 2
    assert sent.batches[0][0] == [oldest.pk, older.pk]
    assert rest["pages"] == 1


def test_a_lost_task_is_sent_again_after_the_lease_runs_out(
    sent: Enqueued, django_capture_on_commit_callbacks: Any
) -> None:
    # given a page that was leased and sent, whose task never ran (the worker died)
    page = make_page(due_at=NOW)
    with time_machine.travel(NOW, tick=False):
        tick(django_capture_on_commit_callbacks)
    assert sent.page_ids == [page.pk]

    # when the dispatcher ticks while the lease holds, nothing is sent again
    with time_machine.travel(NOW + timedelta(seconds=599), tick=False):
        assert tick(django_capture_on_commit_callbacks)["pages"] == 0

    # then once the lease has run out, it is sent again
    with time_machine.travel(NOW + timedelta(seconds=601), tick=False):
        assert tick(django_capture_on_commit_callbacks)["pages"] == 1
    assert sent.page_ids == [page.pk, page.pk]


@override_settings(TRACKING_CHECK_LEASE_SECONDS=30)
def test_the_lease_length_comes_from_the_settings(
    sent: Enqueued, django_capture_on_commit_callbacks: Any
) -> None:
    page = make_page(due_at=NOW)
    with time_machine.travel(NOW, tick=False):
        tick(django_capture_on_commit_callbacks)
    assert Page.objects.get(pk=page.pk).leased_until == NOW + timedelta(seconds=30)


def test_a_page_already_due_keeps_its_due_time(
    sent: Enqueued, django_capture_on_commit_callbacks: Any
) -> None:
    earlier = NOW - timedelta(hours=3)
    page = make_page(due_at=earlier, leased_until=NOW + timedelta(minutes=5))
    make_item(make_watchlist(next_due_at=NOW), page)

    with time_machine.travel(NOW, tick=False):
        summary = tick(django_capture_on_commit_callbacks)

    assert summary["pages"] == 0  # still leased by a check under way
    assert Page.objects.get(pk=page.pk).due_at == earlier


def test_a_missed_run_is_run_once_and_the_next_is_in_the_future(
    sent: Enqueued, django_capture_on_commit_callbacks: Any
) -> None:
    # the scheduler was down for three days
    watchlist = make_watchlist(next_due_at=NOW - timedelta(days=3), times=["09:00"])
    make_item(watchlist, make_page())

    with time_machine.travel(NOW + timedelta(minutes=10), tick=False):
        first = tick(django_capture_on_commit_callbacks)
        second = tick(django_capture_on_commit_callbacks)

    assert first["watchlists"] == 1
    assert second["watchlists"] == 0
    watchlist.refresh_from_db()
    assert watchlist.next_due_at is not None and watchlist.next_due_at > NOW + timedelta(minutes=10)


def test_interval_lists_move_on_by_their_interval(
    sent: Enqueued, django_capture_on_commit_callbacks: Any
) -> None:
    watchlist = make_watchlist(
        next_due_at=NOW,
        schedule_kind=Watchlist.ScheduleKind.INTERVAL,
        interval_minutes=30,
        times=[],
    )
    with time_machine.travel(NOW, tick=False):
        tick(django_capture_on_commit_callbacks)
    watchlist.refresh_from_db()
    assert watchlist.next_due_at == NOW + timedelta(minutes=30)


def test_a_list_with_a_broken_zone_waits_a_day_instead_of_stopping_the_dispatcher(
    sent: Enqueued, django_capture_on_commit_callbacks: Any
) -> None:
    broken = make_watchlist(next_due_at=NOW, time_zone="Not/AZone")
    healthy = make_watchlist(next_due_at=NOW)
    make_item(healthy, make_page())

    with time_machine.travel(NOW, tick=False):
        summary = tick(django_capture_on_commit_callbacks)

    assert summary["watchlists"] == 2 and summary["pages"] == 1
    broken.refresh_from_db()
    assert broken.next_due_at == NOW + timedelta(days=1)


def test_a_claim_does_not_take_a_list_another_dispatcher_moved_on(
    django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given two due lists; another dispatcher moves one on between our read and our update
    first = make_watchlist(next_due_at=NOW)
    second = make_watchlist(next_due_at=NOW)
    original = dispatch._next_after

    def racing(key: Any, after: datetime, pk: int | None = None) -> datetime:
        Watchlist.objects.filter(pk=first.pk).update(next_due_at=NOW + timedelta(hours=5))
        return original(key, after, pk)

    monkeypatch.setattr(dispatch, "_next_after", racing)

    with time_machine.travel(NOW, tick=False):
        claimed = dispatch.claim_due_watchlists(NOW)

    assert claimed == [second.pk]
    first.refresh_from_db()
    assert first.next_due_at == NOW + timedelta(hours=5)


def test_leasing_skips_pages_leased_by_someone_else(
    django_capture_on_commit_callbacks: Any,
) -> None:
    free = make_page(due_at=NOW)
    taken = make_page(due_at=NOW, leased_until=NOW + timedelta(minutes=1))
    expired = make_page(due_at=NOW, leased_until=NOW - timedelta(seconds=1))

    leased = dispatch.lease_pages([free.pk, taken.pk, expired.pk], NOW)

    assert sorted(leased) == sorted([free.pk, expired.pk])


def test_dispatch_is_registered_and_runs_from_the_core_tick(
    sent: Enqueued, django_capture_on_commit_callbacks: Any
) -> None:
    from pricewatch.core.tasks import dispatch as core_dispatch

    make_page(due_at=NOW - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        summary = core_dispatch()
    assert summary["pricewatch.tracking.dispatch.dispatch_due"]["pages"] == 1
