"""Where recorded views wait for the worker: a Redis list at scale, spool files when embedded.

Appending here is the only thing a request does; `drain` hands the worker batches to write.
Embedded mode has separate web and worker processes and a per-process cache, so each web
process appends JSON lines to a file of its own per ten-second slot under VAR_DIR; the worker
reads only slots that have closed, so it never reads a file that is still being written.
Crash window: events appended to Redis or a spool file are kept until drained; a worker that
dies between draining and committing loses that batch (at most `BATCH` events).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import redis
from django.conf import settings

Event = dict[str, Any]

BATCH = 5000
SLOT_SECONDS = 10
REDIS_KEY = "pricewatch:analytics:events"

_lock = threading.Lock()
_redis_clients: dict[str, Any] = {}
# This process's open spool file, by slot; replaced when the slot changes.
_spools: dict[int, TextIO] = {}


def _redis() -> Any:
    url = str(settings.REDIS_URL)
    client = _redis_clients.get(url)
    if client is None:
        client = _redis_clients[url] = redis.Redis.from_url(url)
    return client


def spool_dir() -> Path:
    path = Path(settings.VAR_DIR) / "analytics"
    path.mkdir(parents=True, exist_ok=True)
    return path


def push(event: Event) -> None:
    line = json.dumps(event, separators=(",", ":"))
    if settings.REDIS_URL:
        _redis().rpush(REDIS_KEY, line)
        return
    slot = int(time.time()) // SLOT_SECONDS
    with _lock:
        spool = _spools.get(slot)
        if spool is None:
            for stale in _spools.values():
                stale.close()
            _spools.clear()
            path = spool_dir() / f"{slot:012d}-{os.getpid()}.jsonl"
            spool = _spools[slot] = path.open("a", encoding="utf-8")
        # One write per line, flushed at once: the worker may read any closed slot's file.
        spool.write(line + "\n")
        spool.flush()


def drain(*, include_open: bool = False) -> Iterator[list[Event]]:
    """Batches of waiting events, oldest first, each removed once handed out."""
    if settings.REDIS_URL:
        client = _redis()
        while True:
            pipe = client.pipeline()
            pipe.lrange(REDIS_KEY, 0, BATCH - 1)
            pipe.ltrim(REDIS_KEY, BATCH, -1)
            lines, _ = pipe.execute()
            if not lines:
                return
            yield [json.loads(line) for line in lines]
        return
    closed_before = int(time.time()) // SLOT_SECONDS
    with _lock:
        # A writer in this same process (tests, benchmarks, a worker that serves pages) must
        # not keep appending to a file that is being drained.
        for spool in _spools.values():
            spool.close()
        _spools.clear()
    for path in sorted(spool_dir().glob("*.jsonl")):
        slot = int(path.name.split("-", 1)[0])
        if slot >= closed_before and not include_open:
            continue
        taken = path.with_suffix(".draining")
        path.rename(taken)
        with taken.open(encoding="utf-8") as spool:
            events = [json.loads(line) for line in spool if line.endswith("\n")]
        for start in range(0, len(events), BATCH):
            yield events[start : start + BATCH]
        taken.unlink()
