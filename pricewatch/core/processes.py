"""Worker processes with Django set up, for CPU-bound work that is split into parts.

A worker is forked when the copy is clean — the parent runs one thread and holds no database
transaction, so its connections can be closed first (Django reopens them on next use) — and
then starts with Django set up, as Django's parallel test runner does on Linux. Otherwise it is
spawned: a fresh interpreter that sets Django up from DJANGO_SETTINGS_MODULE (about a second
and a half, which is why fork is preferred). Either way it connects through Django's own
connections. Progress and results come back on one queue. This module imports nothing of the
project, so a spawned worker can load it before Django is set up.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import pickle
import queue
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import django
from django.apps import apps
from django.db import connections

Report = Callable[[int], None]


class WorkerFailed(Exception):
    """A worker raised, or died, before returning its result."""


def available() -> bool:
    """Whether this process may start workers (a daemonic process may not)."""
    return not multiprocessing.current_process().daemon


class Workers:
    """`count` processes, started at once; each `run` gives each one a call
    `function(report, *args)`, whose results `results` then collects (a round at a time)."""

    def __init__(self, count: int) -> None:
        self.start_method = start_method()
        if self.start_method == "fork":
            connections.close_all()  # no socket or file shared with the children
        context = (
            multiprocessing.get_context("fork")
            if self.start_method == "fork"
            else multiprocessing.get_context("spawn")
        )
        self._events: Any = context.Queue()
        self._inboxes: list[Any] = [context.SimpleQueue() for _ in range(count)]
        # The parent's database names go along: a test run renames them (as Django's
        # parallel test runner does for its own workers).
        names = {alias: connections[alias].settings_dict["NAME"] for alias in connections}
        self._processes: list[Any] = []
        # Forked workers would otherwise walk (and so copy) every object they inherit in
        # their first garbage collections: frozen objects are left out (see gc.freeze).
        gc.freeze()
        try:
            for index, inbox in enumerate(self._inboxes):
                process = context.Process(
                    target=_run, args=(names, self._events, index, inbox), daemon=True
                )
                process.start()
                self._processes.append(process)
        finally:
            gc.unfreeze()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for inbox, process in zip(self._inboxes, self._processes, strict=True):
            if process.is_alive():
                inbox.put(None)  # done: the worker closes its connections and exits
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():  # still busy with a call whose result nobody awaits
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


def start_method() -> str:
    """ "fork" when a forked copy of this process is clean (see the module docstring)."""
    busy = any(connection.in_atomic_block for connection in connections.all(initialized_only=True))
    return "spawn" if busy or threading.active_count() > 1 else "fork"


def _run(names: dict[str, str], events: Any, index: int, inbox: Any) -> None:
    if not apps.ready:  # spawned
        django.setup()
    for alias, name in names.items():
        connections[alias].settings_dict["NAME"] = name
    try:
        while (call := inbox.get()) is not None:
            (module, name), args = call
            function = getattr(importlib.import_module(module), name)
            # Pickled by our parent a moment ago: trusted input.
            arguments = pickle.loads(args)  # noqa: S301
            result = function(lambda done: events.put((index, "progress", done)), *arguments)
            events.put((index, "done", result))
    except BaseException:  # any failure is the parent's to handle
        events.put((index, "failed", traceback.format_exc()))
    finally:
        connections.close_all()
