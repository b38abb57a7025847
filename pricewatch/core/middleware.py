"""Request logging with request ids, and the one error shape for every API error response."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.functional import SimpleLazyObject, empty

from pricewatch.core import context, errors

logger = logging.getLogger("pricewatch.request")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
API_PREFIXES = ("/api/", "/_allauth/")


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


class RequestLogMiddleware:
    """One log line per request: method, path, status, duration, user id and request id.

    The request id comes from `X-Request-ID` when the caller sends a sane one, otherwise it is
    generated; either way it is returned in the response and carried by every log line.
    Only the path is logged, never the query string, headers or body.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        request_token = context.request_id.set(request_id)
        user_token = context.user_id.set("-")
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            context.request_id.reset(request_token)
            context.user_id.reset(user_token)
        duration_ms = (time.perf_counter() - started) * 1000
        response["X-Request-ID"] = request_id
        user_id = _user_id(request)
        level = logging.ERROR if response.status_code >= 500 else logging.INFO
        logger.log(
            level,
            "%s %s %s %.1fms user=%s",
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            user_id,
            extra={
                "request_id": request_id,
                "user_id": user_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(duration_ms, 2),
            },
        )
        return response


def _user_id(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    # Only read a user that is already loaded: logging must not cost a session query.
    if user is None or (
        isinstance(user, SimpleLazyObject) and getattr(user, "_wrapped", empty) is empty
    ):
        return "-"
    try:
        return str(user.pk) if user.is_authenticated else "-"
    except Exception:
        return "-"


class ApiErrorShapeMiddleware:
    """Gives every API error response the shape {"detail", "code", "fields"?}.

    Ninja's own errors already have it. This catches the rest: Django's 404/405/413 pages,
    and allauth's headless errors, to which `detail`/`code`/`fields` are added while allauth's own
    keys stay, so allauth's clients keep working.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or not is_api_path(request.path):
            return response
        if getattr(response, "streaming", False):
            return response
        content_type = response.get("Content-Type", "")
        if content_type.startswith("application/json"):
            try:
                body = json.loads(response.content or b"null")
            except ValueError:
                body = None
            if isinstance(body, dict) and "detail" in body and "code" in body:
                return response
            if isinstance(body, dict) and {"status", "errors", "meta", "data"} & body.keys():
                body.update(_describe_allauth(request.path, body, response.status_code))
                if body.get("code") in _THROTTLE_CODES:
                    # allauth reports its failed-login lock-out as a 400; it is a rate limit.
                    body["status"] = 429
                    response.status_code = 429
                return _json(body, response)
        detail = _plain_detail(request, response)
        return _json(errors.error_body(detail, status=response.status_code), response)


def _json(body: dict[str, Any], original: HttpResponse) -> HttpResponse:
    response = JsonResponse(body, status=original.status_code)
    for header in ("Allow", "Retry-After", "WWW-Authenticate", "X-Request-ID"):
        if header in original:
            response[header] = original[header]
    return response


def _plain_detail(request: HttpRequest, response: HttpResponse) -> str:
    status = response.status_code
    if status == 405:
        allowed = response.get("Allow", "")
        return f"Method {request.method} is not allowed here" + (
            f"; allowed: {allowed}." if allowed else "."
        )
    if status == 404:
        return f"No API endpoint at {request.path}."
    try:
        return HTTPStatus(status).phrase + "."
    except ValueError:
        return "Error."


_THROTTLE_CODES = {"too_many_login_attempts"}

# allauth answers some failures with no message at all; say what they mean.
_SILENT_ALLAUTH_ERRORS: dict[str, tuple[str, str]] = {
    "/tokens/refresh": (
        "The refresh token is invalid, expired or revoked (logged out); log in again.",
        "invalid_refresh_token",
    ),
}


def _describe_allauth(path: str, body: dict[str, Any], status: int) -> dict[str, Any]:
    """Summarise an allauth headless error body in our shape."""
    extra: dict[str, Any] = {}
    problems = body.get("errors") or []
    for suffix, (detail, code) in _SILENT_ALLAUTH_ERRORS.items():
        if not problems and status == 400 and path.endswith(suffix):
            return {"detail": detail, "code": code}
    if problems:
        fields = {
            str(problem.get("param")): str(problem.get("message", ""))
            for problem in problems
            if isinstance(problem, dict) and problem.get("param")
        }
        first = problems[0] if isinstance(problems[0], dict) else {}
        extra["detail"] = (
            " ".join(
                str(problem.get("message", "")) for problem in problems if isinstance(problem, dict)
            ).strip()
            or HTTPStatus(status).phrase
        )
        extra["code"] = str(first.get("code") or errors.code_for_status(status))
        if fields:
            extra["fields"] = fields
        return extra
    flows = (body.get("data") or {}).get("flows") or []
    pending = [
        flow.get("id") for flow in flows if isinstance(flow, dict) and flow.get("is_pending")
    ]
    if "verify_email" in pending:
        extra["detail"] = (
            "The e-mail address is not verified yet: open the link in the verification mail, "
            "or POST its key to /_allauth/app/v1/auth/email/verify."
        )
        extra["code"] = "email_not_verified"
    elif status == 401:
        extra["detail"] = "Not logged in."
        extra["code"] = "not_authenticated"
    elif status == 410:
        extra["detail"] = "This session or flow has expired; start again."
        extra["code"] = "gone"
    else:
        extra["detail"] = HTTPStatus(status).phrase + "."
        extra["code"] = errors.code_for_status(status)
    return extra
