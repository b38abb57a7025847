"""Catalog tasks: run a feed import, mail the admins about it."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from pricewatch.catalog import imports, notifications
from pricewatch.core.tasks import ExternalTask


def queue_import(job_id: int) -> None:
    """Run a job started with `imports.start_import` in a worker, once the job is committed."""
    transaction.on_commit(lambda: run_import_task.delay(job_id))


@shared_task(name="pricewatch.catalog.tasks.run_import", ignore_result=True)
def run_import_task(job_id: int) -> str:
    """Run an import job, then mail the admins; a finished (or running) job is left alone."""
    return str(imports.run_import(job_id, on_finished=send_import_mail.delay).status)


@shared_task(
    name="pricewatch.catalog.tasks.send_import_mail",
    base=ExternalTask,
    bind=True,
    ignore_result=True,
)
def send_import_mail(self: ExternalTask, job_id: int) -> int:
    """Mail the admins about a finished import; retried on SMTP trouble, never sent twice."""
    final = self.request.retries >= (self.max_retries or 0)
    return notifications.notify_admins(job_id, final_attempt=final)
