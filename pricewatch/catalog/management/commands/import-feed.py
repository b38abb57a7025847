"""`pricewatch import-feed FILE [--dry-run]`: import a product feed in this process."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from pricewatch.catalog import imports, tasks
from pricewatch.catalog.models import ImportJob
from pricewatch.core.errors import DomainError

# No tqdm monitor thread: a process with one thread forks its parsing workers (core.processes).
tqdm.monitor_interval = 0


class Command(BaseCommand):
    help = (
        "Import a Google Merchant feed (RSS 2.0 or Atom) from FILE: upsert products by sku, "
        "print the summary and the first rejected items. Exits with 1 when the document is "
        "malformed (nothing is changed then)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the feed file")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="parse, validate and report without writing products",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            job = imports.start_import(path=path, dry_run=options["dry_run"])
        except DomainError as error:
            raise CommandError(error.detail) from error
        # The bar goes to stderr so the summary on stdout stays clean for scripts.
        with tqdm(
            total=None,
            unit=" items",
            unit_scale=True,
            file=sys.stderr,
            disable=not sys.stderr.isatty(),
            desc=path.name,
        ) as bar:

            def progress(done: int, total: int | None) -> None:
                if total is not None and bar.total != total:
                    bar.total = total
                bar.update(done - bar.n)

            job = imports.run_import(
                job.pk, progress=progress, on_finished=tasks.send_import_mail.delay
            )
        self._report(job)
        if job.status == ImportJob.Status.FAILED:
            raise CommandError(f"import failed: {self._error(job)}", returncode=1)

    def _error(self, job: ImportJob) -> str:
        where = ""
        if job.error_line:
            where = f" (line {job.error_line}"
            where += f", column {job.error_column})" if job.error_column else ")"
        return f"{job.error}{where}"

    def _report(self, job: ImportJob) -> None:
        out = self.stdout
        label = "dry run" if job.dry_run else "import"
        out.write(f"{label} {job.pk} of {job.filename}: {job.status}")
        if job.status == ImportJob.Status.FAILED:
            out.write("nothing was changed")
            return
        counts = imports.summary(job)
        out.write(f"items: {job.processed}")
        out.write(", ".join(f"{name}: {value}" for name, value in counts.items()))
        rejections = imports.first_rejections(job)
        if rejections:
            out.write("first rejected items:")
            for item in rejections:
                sku = f" ({item.sku})" if item.sku else ""
                out.write(f"  line {item.line}{sku}: {item.reason}")
            more = job.rejected_count - len(rejections)
            if more > 0:
                out.write(f"  ... and {more} more")
