from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


def celery_argv(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "pricewatch", *arguments]


class Command(BaseCommand):
    help = "Run a Celery worker (with --beat, also the scheduler: the embedded mode)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--concurrency",
            "-c",
            type=int,
            default=None,
            help="Worker processes (default: number of CPUs).",
        )
        parser.add_argument(
            "--beat",
            "-B",
            action="store_true",
            help="Embed the scheduler in this worker (one per installation).",
        )
        parser.add_argument("--queues", "-Q", default=None, help="Comma-separated queue names.")
        parser.add_argument("--pool", default=None, help="prefork (default), threads or solo.")

    def handle(
        self,
        *args: Any,
        concurrency: int | None,
        beat: bool,
        queues: str | None,
        pool: str | None,
        **options: Any,
    ) -> None:
        argv = celery_argv("worker", "--loglevel", settings.LOG_LEVEL)
        if concurrency:
            argv += ["--concurrency", str(concurrency)]
        if queues:
            argv += ["--queues", queues]
        if pool:
            argv += ["--pool", pool]
        if beat:
            argv += ["--beat", "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME]
        sys.stdout.flush()
        os.execv(sys.executable, argv)
