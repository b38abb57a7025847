"""Catalog tasks: run a feed import, mail the admins about it."""

from __future__ import annotations

from celery import shared_task

from pricewatch.catalog import imports
from pricewatch.core.tasks import ExternalTask


@shared_task(name="pricewatch.catalog.tasks.run_import", ignore_result=True)
def run_import_task(job_id: int) -> str:
    """Run an import job; a finished (or already running) job is left alone."""
    return str(imports.run_import(job_id).status)


@shared_task(
    name="pricewatch.catalog.tasks.send_import_mail", base=ExternalTask, ignore_result=True
)
def send_import_mail(job_id: int) -> int:
    """Mail the admins about a finished import; retried on SMTP trouble, never sent twice."""
    return imports.notify_admins(job_id)
