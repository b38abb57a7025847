"""Health endpoints, the home page, and error pages that never show a stack trace."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pricewatch.core import errors, health
from pricewatch.core.middleware import is_api_path

logger = logging.getLogger(__name__)


@require_GET
@never_cache
def health_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def ready_view(request: HttpRequest) -> JsonResponse:
    checks = health.readiness()
    failing = [name for name, result in checks.items() if result != "ok"]
    if failing:
        detail = "Not ready: " + "; ".join(f"{name} ({checks[name]})" for name in failing)
        return JsonResponse(
            {
                "status": "unavailable",
                "detail": detail,
                "code": "unavailable",
                "failing": failing,
                "checks": checks,
            },
            status=503,
        )
    return JsonResponse({"status": "ready", "checks": checks})


def _error(request: HttpRequest, status: int, detail: str, title: str) -> HttpResponse:
    if is_api_path(request.path):
        return JsonResponse(errors.error_body(detail, status=status), status=status)
    return render(
        request,
        "core/error.html",
        {"status": status, "title": title, "detail": detail},
        status=status,
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        return _error(request, 413, "The request body is too large.", "Too large")
    return _error(request, 400, "The request could not be understood.", "Bad request")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, "You do not have permission to see this.", "Forbidden")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, f"Nothing here at {request.path}.", "Not found")


def server_error(request: HttpRequest) -> HttpResponse:
    request_id = getattr(request, "request_id", "-")
    return _error(
        request,
        500,
        f"Something went wrong on our side. Quote request id {request_id} when reporting it.",
        "Server error",
    )
