"""The periodic dispatcher's list of work: each app registers its function in `AppConfig.ready`.

Every few seconds `core.tasks.dispatch` calls each registered function once; each claims its own
due rows from the database, so a lost tick only delays work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

Dispatcher = Callable[[], Any]

_registered: dict[str, Dispatcher] = {}


def name_of(dispatcher: Dispatcher) -> str:
    return f"{dispatcher.__module__}.{dispatcher.__qualname__}"


def register(dispatcher: Dispatcher) -> None:
    _registered[name_of(dispatcher)] = dispatcher


def registered() -> Mapping[str, Dispatcher]:
    return dict(_registered)


@contextmanager
def replaced(dispatchers: list[Dispatcher]) -> Iterator[None]:
    """Run a block with only `dispatchers` registered (tests)."""
    saved = dict(_registered)
    _registered.clear()
    try:
        for dispatcher in dispatchers:
            register(dispatcher)
        yield
    finally:
        _registered.clear()
        _registered.update(saved)
