"""Worker processes: spawned with Django set up, connected to the parent's database."""

from __future__ import annotations

import pytest
from django.db import connection

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
