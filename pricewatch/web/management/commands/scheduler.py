from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from pricewatch.web.management.commands.worker import celery_argv


class Command(BaseCommand):
    help = "Run the periodic scheduler (Celery beat). Run exactly one per installation."

    def handle(self, *args: Any, **options: Any) -> None:
        argv = celery_argv(
            "beat",
            "--loglevel",
            settings.LOG_LEVEL,
            "--schedule",
            settings.CELERY_BEAT_SCHEDULE_FILENAME,
        )
        sys.stdout.flush()
        os.execv(sys.executable, argv)
