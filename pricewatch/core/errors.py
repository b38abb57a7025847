"""Errors with a stable code, and the one JSON shape every API error takes."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

ModelT = TypeVar("ModelT", bound=Model)

STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "throttled",
    500: "server_error",
    502: "bad_gateway",
    503: "unavailable",
}


def code_for_status(status: int) -> str:
    if status in STATUS_CODES:
        return STATUS_CODES[status]
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def error_body(
    detail: str, *, status: int, code: str | None = None, fields: dict[str, str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": detail, "code": code or code_for_status(status)}
    if fields:
        body["fields"] = fields
    return body


class DomainError(Exception):
    """A request the domain refuses; the API answers with `status` and this message."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status: int | None = None,
        fields: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        if status:
            self.status = status
        self.fields = fields or {}


class Conflict(DomainError):
    status = 409
    code = "conflict"


def first_or_404(query: QuerySet[ModelT], pk: int, *, noun: str) -> ModelT:
    """The row of `query` with this id, or a 404 naming what was looked for."""
    found = query.filter(pk=pk).first()
    if found is None:
        raise DomainError(f"No {noun} with id {pk}.", code="not_found", status=404)
    return found


class TemporaryFailure(Exception):
    """Talking to the outside world failed in a way a later retry may fix."""


class PermanentFailure(Exception):
    """Talking to the outside world failed in a way no retry will fix."""
