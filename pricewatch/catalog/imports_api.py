"""Feed imports over the API (admins only): upload a feed, follow its job, read the report."""

from __future__ import annotations

from datetime import datetime
from math import ceil
from typing import Any, Literal
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status

from pricewatch.catalog import imports, tasks
from pricewatch.catalog.models import ImportItem, ImportJob
from pricewatch.core.api import ErrorOut, StrictSchema
from pricewatch.core.auth import staff_access_token
from pricewatch.core.errors import DomainError

router = Router(tags=["imports"])

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
Outcome = Literal["created", "updated", "unchanged", "rejected", "duplicate"]


class ProgressOut(Schema):
    processed: int
    total: int | None


class CountsOut(Schema):
    created: int
    updated: int
    unchanged: int
    rejected: int
    duplicate: int


class ImportErrorOut(Schema):
    message: str
    line: int | None
    column: int | None


class ImportItemOut(Schema):
    line: int
    sku: str
    outcome: str
    reason: str


class ReportOut(Schema):
    items: list[ImportItemOut]
    count: int
    page: int
    pages: int
    next: str | None
    previous: str | None


class ImportJobOut(Schema):
    id: int
    status: str
    filename: str
    size: int
    dry_run: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: ProgressOut
    counts: CountsOut
    error: ImportErrorOut | None


class ImportJobDetailOut(ImportJobOut):
    report: ReportOut


class ImportJobListOut(Schema):
    items: list[ImportJobOut]
    count: int
    page: int
    pages: int
    next: str | None
    previous: str | None


class ImportListIn(StrictSchema):
    page: int = 1
    page_size: int = 20


class ImportDetailIn(StrictSchema):
    report_page: int = 1
    report_page_size: int = 50
    outcome: Outcome | None = None


def _job_out(job: ImportJob) -> dict[str, Any]:
    error = None
    if job.status == ImportJob.Status.FAILED:
        error = {"message": job.error, "line": job.error_line, "column": job.error_column}
    return {
        "id": job.pk,
        "status": job.status,
        "filename": job.filename,
        "size": job.size,
        "dry_run": job.dry_run,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "progress": {"processed": job.processed, "total": job.total},
        "counts": imports.summary(job),
        "error": error,
    }


def _check_page(name: str, value: int) -> None:
    if value < 1:
        raise DomainError(f"{name} must be 1 or more.", code="invalid", fields={name: "Min 1."})


def _check_page_size(name: str, value: int) -> None:
    if not 1 <= value <= 100:
        raise DomainError(
            f"{name} must be between 1 and 100.", code="invalid", fields={name: "1 to 100."}
        )


def _link(request: HttpRequest, params: dict[str, Any]) -> str:
    query = {key: value for key, value in params.items() if value is not None}
    return request.build_absolute_uri(f"{request.path}?{urlencode(query)}")


def _page(
    request: HttpRequest,
    queryset: QuerySet[Any],
    page: int,
    size: int,
    page_key: str,
    params: dict[str, Any],
) -> tuple[list[Any], dict[str, Any]]:
    count = queryset.count()
    pages = max(1, ceil(count / size))
    rows = list(queryset[(page - 1) * size : page * size])
    links = {
        "next": _link(request, {**params, page_key: page + 1}) if page < pages else None,
        "previous": _link(request, {**params, page_key: min(page - 1, pages)})
        if page > 1
        else None,
    }
    return rows, {"count": count, "page": page, "pages": pages, **links}


@router.post(
    "/imports",
    auth=staff_access_token,
    response={202: ImportJobOut, 400: ErrorOut, 413: ErrorOut, 415: ErrorOut},
    summary="Upload a product feed",
)
def upload_feed(request: HttpRequest, response: HttpResponse) -> Status[dict[str, Any]]:
    """Multipart upload: `file` (the feed), optional `dry_run` (true/false).

    Answers 202 with the job at once; the worker imports it. Follow it with
    `GET /api/v1/imports/{id}`.
    """
    content_type = request.content_type or ""
    if content_type != "multipart/form-data":
        raise DomainError(
            "Send the feed as multipart/form-data with the file in the field 'file'.",
            code="unsupported_media_type",
            status=415,
        )
    unknown = sorted((set(request.POST) | set(request.FILES)) - {"file", "dry_run"})
    if unknown:
        raise DomainError(
            f"Unknown field(s): {', '.join(unknown)}.",
            code="invalid",
            fields=dict.fromkeys(unknown, "Unknown field."),
        )
    upload = request.FILES.get("file")
    if upload is None:
        message = (
            "The field 'file' must be a file upload, not a text value."
            if "file" in request.POST
            else "This field is required."
        )
        raise DomainError(f"file: {message}", code="invalid", fields={"file": message})
    raw_dry_run = request.POST.get("dry_run", "").strip().lower()
    if raw_dry_run not in _TRUE | _FALSE:
        raise DomainError(
            "dry_run must be true or false.", code="invalid", fields={"dry_run": "Not a boolean."}
        )
    if upload.size is not None and upload.size > settings.MAX_UPLOAD_BYTES:
        raise DomainError(
            f"The feed is larger than the limit of {settings.MAX_UPLOAD_BYTES} bytes.",
            code="request_too_large",
            status=413,
        )
    job = imports.start_import(
        upload=upload,
        filename=upload.name or "",
        dry_run=raw_dry_run in _TRUE,
        user=request.user,
    )
    tasks.queue_import(job.pk)
    response["Location"] = f"/api/v1/imports/{job.pk}"
    return Status(202, _job_out(job))


@router.get(
    "/imports",
    auth=staff_access_token,
    response={200: ImportJobListOut, 400: ErrorOut},
    summary="List feed imports, newest first",
)
def list_imports(request: HttpRequest, filters: Query[ImportListIn]) -> dict[str, Any]:
    _check_page("page", filters.page)
    _check_page_size("page_size", filters.page_size)
    jobs = ImportJob.objects.order_by("-created_at", "-pk")
    rows, meta = _page(
        request,
        jobs,
        filters.page,
        filters.page_size,
        "page",
        {"page_size": filters.page_size},
    )
    return {"items": [_job_out(job) for job in rows], **meta}


@router.get(
    "/imports/{job_id}",
    auth=staff_access_token,
    response={200: ImportJobDetailOut, 400: ErrorOut, 404: ErrorOut},
    summary="One feed import: status, progress, counts, error and report",
)
def get_import(request: HttpRequest, job_id: int, filters: Query[ImportDetailIn]) -> dict[str, Any]:
    """`report_page` / `report_page_size` (max 100) page through the per-item report in line
    order; `outcome` keeps one kind (created, updated, unchanged, rejected, duplicate)."""
    _check_page("report_page", filters.report_page)
    _check_page_size("report_page_size", filters.report_page_size)
    job = get_object_or_404(ImportJob, pk=job_id)
    items = ImportItem.objects.filter(job=job).order_by("line", "pk")
    if filters.outcome is not None:
        items = items.filter(outcome=filters.outcome)
    params = {"report_page_size": filters.report_page_size, "outcome": filters.outcome}
    rows, meta = _page(
        request, items, filters.report_page, filters.report_page_size, "report_page", params
    )
    report = {
        "items": [
            {"line": row.line, "sku": row.sku, "outcome": row.outcome, "reason": row.reason}
            for row in rows
        ],
        **meta,
    }
    return {**_job_out(job), "report": report}
