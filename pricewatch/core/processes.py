"""Worker processes with Django set up, for CPU-bound work that is split into parts.

Each worker is spawned (a fresh interpreter: forking would copy a threaded parent and its open
database connections), sets Django up from the parent's DJANGO_SETTINGS_MODULE and connects
through Django's own connections, like any Django process. Progress and results come back on
one queue. This module imports nothing of the project, so a worker can load it before Django
is set up.
"""

from __future__ import annotations

import importlib
import multiprocessing
import pickle
import queue
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import django
from django.db import connections

Report = Callable[[int], None]


class WorkerFailed(Exception):
    """A worker raised, or died, before returning its result."""


def available() -> bool:
    """Whether this process may start workers (a daemonic process may not)."""
    return not multiprocessing.current_process().daemon


class Workers:
    """`count` processes, started (and setting Django up) at once; `run` gives each one call
    `function(report, *args)`, so that their start overlaps whatever the caller does first."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._events: Any = context.Queue()
        self._inboxes: list[Any] = [context.SimpleQueue() for _ in range(count)]
        # The parent's database names go along: a test run renames them (as Django's
        # parallel test runner does for its own workers).
        names = {alias: connections[alias].settings_dict["NAME"] for alias in connections}
        self._processes: list[Any] = []
        for index, inbox in enumerate(self._inboxes):
            process = context.Process(
                target=_run, args=(names, self._events, index, inbox), daemon=True
            )
            process.start()
            self._processes.append(process)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in self._processes:
            if process.is_alive():
                process.terminate()
            process.join()
        self._events.close()
        self._events.join_thread()
        for inbox in self._inboxes:
            inbox.close()

    def run(self, function: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> None:
        """Give worker i the call `function(report, *calls[i])`."""
        assert len(calls) == len(self._processes)
        # The function travels by name and its arguments pickled: the worker loads them after
        # django.setup(), since a module with models cannot be imported before.
        target = (function.__module__, function.__qualname__)
        for inbox, args in zip(self._inboxes, calls, strict=True):
            inbox.put((target, pickle.dumps(args)))

    def results(self, progress: Callable[[list[int]], None]) -> list[Any]:
        """Every worker's result, in start order; `progress` gets each one's latest report.

        Raises WorkerFailed as soon as one worker fails or exits without a result.
        """
        reported = [0] * len(self._processes)
        results: dict[int, Any] = {}
        suspect = False  # a worker is gone without its result: one more wait for its events
        while len(results) < len(self._processes):
            try:
                index, kind, value = self._events.get(timeout=0.5)
            except queue.Empty:
                gone = [
                    index
                    for index, process in enumerate(self._processes)
                    if index not in results and not process.is_alive()
                ]
                if gone and suspect:
                    exitcode = self._processes[gone[0]].exitcode
                    raise WorkerFailed(f"worker {gone[0]} exited with {exitcode}") from None
                suspect = bool(gone)
                continue
            if kind == "failed":
                raise WorkerFailed(f"worker {index}: {value}")
            if kind == "progress":
                reported[index] = value
                progress(reported)
            else:
                results[index] = value
        return [results[index] for index in range(len(self._processes))]


def _run(names: dict[str, str], events: Any, index: int, inbox: Any) -> None:
    django.setup()
    for alias, name in names.items():
        connections[alias].settings_dict["NAME"] = name
    try:
        (module, name), args = inbox.get()
        function = getattr(importlib.import_module(module), name)
        # Pickled by our parent a moment ago: trusted input.
        arguments = pickle.loads(args)  # noqa: S301
        result = function(lambda done: events.put((index, "progress", done)), *arguments)
    except BaseException:  # any failure is the parent's to handle
        events.put((index, "failed", traceback.format_exc()))
    else:
        events.put((index, "done", result))
    finally:
        connections.close_all()
