"""Worker processes: forked or spawned with Django set up, connected to the parent's database."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from pricewatch.accounts.models import User
from pricewatch.core import processes


def database_name(report: processes.Report, offset: int) -> tuple[str, int]:
    report(offset)
    return str(connection.settings_dict["NAME"]), offset + 1


def fail(report: processes.Report) -> None:
    raise ValueError("broken part")


def test_workers_run_with_django_set_up_on_the_parents_database() -> None:
    seen: list[list[int]] = []
    with processes.Workers(2) as workers:
        workers.run(database_name, [(10,), (20,)])
        results = workers.results(lambda done: seen.append(list(done)))
    name = str(connection.settings_dict["NAME"])
    assert results == [(name, 11), (name, 21)]
    assert seen[-1] == [10, 20]


def test_a_failing_worker_raises_with_its_traceback() -> None:
    with (
        processes.Workers(1) as workers,
        pytest.raises(processes.WorkerFailed, match="broken part"),
    ):
        workers.run(fail, [()])
        workers.results(lambda done: None)


def user_count(report: processes.Report) -> int:
    return User.objects.count()


@pytest.mark.django_db(transaction=True)
def test_workers_read_what_the_parent_committed_forked_or_spawned() -> None:
    User.objects.create_user(email="one@example.com", password="x")
    User.objects.create_user(email="two@example.com", password="x")
    if threading.active_count() > 1:
        pytest.skip("another thread runs in this test process: fork is not clean here")

    with processes.Workers(2) as forked:
        forked.run(user_count, [(), ()])
        forked_counts = forked.results(lambda done: None)

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with processes.Workers(1) as spawned:
            spawned.run(user_count, [()])
            spawned_counts = spawned.results(lambda done: None)
    finally:
        stop.set()
        other.join()

    assert (forked.start_method, forked_counts) == ("fork", [2, 2])
    assert (spawned.start_method, spawned_counts) == ("spawn", [2])


@pytest.mark.django_db
def test_a_parent_inside_a_transaction_spawns() -> None:
    with transaction.atomic():
        assert processes.start_method() == "spawn"
