"""Liveness and readiness: is the process up, and can it reach what it needs?"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    if settings.CELERY_BROKER_URL.startswith("pwfilesystem://"):
        folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise RuntimeError(f"broker folder {folder} is missing or not writable")
        return
    # Imported here: kombu only in scale mode, when a broker URL is set.
    from kombu import Connection  # noqa: PLC0415

    with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def check_cache() -> None:
    probe = secrets.token_hex(8)
    cache.set("pricewatch:ready-probe", probe, 10)
    if cache.get("pricewatch:ready-probe") != probe:
        raise RuntimeError("the cache did not return what was stored")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "cache": check_cache,
}


def readiness() -> dict[str, str]:
    """Run every check; a part's value is "ok" or what went wrong with it."""
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:
            results[name] = f"{type(exc).__name__}: {exc}"[:300]
        else:
            results[name] = "ok"
    return results
