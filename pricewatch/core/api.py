"""The API object: Django Ninja under /api/v1/, one error shape, allauth's spec merged in."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.throttling import AnonRateThrottle, AuthRateThrottle
from pydantic import ConfigDict

from pricewatch.core import errors

logger = logging.getLogger(__name__)


class StrictSchema(Schema):
    """Input schema that refuses fields it does not know, so typos are not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(Schema):
    detail: str
    code: str
    fields: dict[str, str] | None = None


def _field_path(location: list[Any] | tuple[Any, ...]) -> str:
    # Ninja nests the payload under the parameter name ("body", "payload"); users think in fields.
    parts = [str(part) for part in location]
    if len(parts) >= 2 and parts[0] in {"body", "query", "path", "form", "file", "header"}:
        source, rest = parts[0], parts[1:]
        if len(rest) > 1:
            rest = rest[1:]  # drop the view argument's name, e.g. body.payload.email -> email
        return ".".join(rest) if source == "body" else f"{source}.{'.'.join(rest)}"
    return ".".join(parts) or "body"


def validation_fields(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in exc.errors:
        path = _field_path(error.get("loc", ()))
        message = str(error.get("msg", "Invalid value."))
        if error.get("type") == "extra_forbidden":
            message = "Unknown field."
        elif error.get("type") == "missing":
            message = "This field is required."
        fields.setdefault(path, message)
    return fields


class PricewatchAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        merge_allauth_spec(schema)
        return schema


def merge_allauth_spec(schema: dict[str, Any]) -> None:
    """Add allauth's headless account endpoints to our OpenAPI document, so one page shows all."""
    try:
        # Imported here: allauth's schema module needs the URLconf loaded.
        from allauth.headless.spec.internal.schema import get_schema  # noqa: PLC0415
    except ImportError:  # pragma: no cover - allauth is a hard dependency
        return
    try:
        account_spec = get_schema()
    except Exception:  # the docs must load even if allauth's spec builder changes under us
        logger.exception("could not build allauth's OpenAPI spec; serving ours alone")
        return
    schema.setdefault("paths", {}).update(account_spec.get("paths", {}))
    components = schema.setdefault("components", {})
    for kind, entries in account_spec.get("components", {}).items():
        target = components.setdefault(kind, {})
        for name, value in entries.items():
            target.setdefault(name, value)
    tags = schema.setdefault("tags", [])
    known = {tag.get("name") for tag in tags}
    tags.extend(tag for tag in account_spec.get("tags", []) if tag.get("name") not in known)


api = PricewatchAPI(
    title="pricewatch API",
    version="1",
    description=(
        "Product catalog and price monitoring. Authenticate with the access token from "
        "`POST /_allauth/app/v1/auth/login` as `Authorization: Bearer <token>`; refresh it with "
        "`POST /_allauth/app/v1/tokens/refresh`. Errors always look like "
        '`{"detail": "...", "code": "...", "fields": {...}}`.'
    ),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    throttle=[
        AnonRateThrottle(settings.API_THROTTLE_ANON),
        AuthRateThrottle(settings.API_THROTTLE_USER),
    ],
)


def _respond(
    request: HttpRequest,
    status: int,
    detail: str,
    code: str | None = None,
    fields: dict[str, str] | None = None,
) -> HttpResponse:
    body = errors.error_body(detail, status=status, code=code, fields=fields)
    return api.create_response(request, body, status=status)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = validation_fields(exc)
    summary = "; ".join(f"{field}: {message}" for field, message in fields.items())
    return _respond(request, 422, f"Invalid input — {summary}", "invalid", fields)


@api.exception_handler(AuthenticationError)
def _authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    detail = getattr(request, "auth_problem", None) or (
        "Authentication required: send 'Authorization: Bearer <access token>'."
    )
    return _respond(request, 401, detail, "not_authenticated")


@api.exception_handler(Throttled)
def _throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    wait = int(exc.wait or 1)
    response = _respond(request, 429, f"Too many requests; try again in {wait} s.", "throttled")
    response["Retry-After"] = str(wait)
    return response


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    message = str(exc)
    if message == "Cannot parse request body" or message.startswith("Cannot parse request body"):
        message = "The request body is not valid JSON."
    return _respond(request, exc.status_code, message)


@api.exception_handler(errors.DomainError)
def _domain_error(request: HttpRequest, exc: errors.DomainError) -> HttpResponse:
    return _respond(request, exc.status, exc.detail, exc.code, exc.fields or None)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    detail = str(exc) if exc.args and "matches the given query" not in str(exc) else "Not found."
    return _respond(request, 404, detail)


@api.exception_handler(PermissionDenied)
def _permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _respond(request, 403, str(exc) or "You do not have permission to do this.")


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _respond(
        request, 413, f"The request body is larger than {settings.MAX_REQUEST_BYTES} bytes."
    )
