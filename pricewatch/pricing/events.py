"""Who hears about recorded price changes.

Apps above pricing (alerts, the live feed) subscribe in their `AppConfig.ready`; the price door
announces the ids of the PriceChange rows it wrote once the transaction has committed. The rows
are the outbox: a consumer that fails or misses a nudge catches up from them later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from django.db import transaction

logger = logging.getLogger(__name__)

PriceChangeConsumer = Callable[[Sequence[int]], None]

_consumers: list[PriceChangeConsumer] = []


def subscribe(consumer: PriceChangeConsumer) -> None:
    if consumer not in _consumers:
        _consumers.append(consumer)


def unsubscribe(consumer: PriceChangeConsumer) -> None:
    if consumer in _consumers:
        _consumers.remove(consumer)


def consumers() -> tuple[PriceChangeConsumer, ...]:
    return tuple(_consumers)


@contextmanager
def subscribed(consumer: PriceChangeConsumer) -> Iterator[None]:
    """Subscribe for the duration of a block (tests, one-off scripts)."""
    subscribe(consumer)
    try:
        yield
    finally:
        unsubscribe(consumer)


def announce_after_commit(change_ids: Sequence[int]) -> None:
    if not change_ids:
        return
    ids = list(change_ids)

    def announce() -> None:
        for consumer in consumers():
            try:
                consumer(ids)
            except Exception:
                # The rows stay in the outbox; the consumer's sweeper picks them up later.
                logger.exception("price-change consumer %r failed", consumer)

    transaction.on_commit(announce)
