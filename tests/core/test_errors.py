from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.django_db
def test_web_404_is_a_friendly_page_without_a_stack_trace(client: Client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert b"Nothing here at /no/such/page" in response.content
    assert b"Traceback" not in response.content


@pytest.mark.django_db
def test_api_404_outside_any_router_is_json(client: Client) -> None:
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_api_docs_and_schema_include_our_and_allauths_endpoints(client: Client) -> None:
    assert client.get("/api/docs").status_code == 200
    schema = client.get("/api/openapi.json").json()
    assert "/api/v1/me" in schema["paths"]
    assert "/_allauth/app/v1/auth/login" in schema["paths"]
    assert "/_allauth/app/v1/tokens/refresh" in schema["paths"]


@pytest.mark.django_db
def test_cors_allows_configured_origins_only(client: Client, settings: object) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]  # type: ignore[attr-defined]
    allowed = client.options(
        "/api/v1/me",
        HTTP_ORIGIN="https://app.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )
    assert allowed["access-control-allow-origin"] == "https://app.example.com"
    other = client.options(
        "/api/v1/me",
        HTTP_ORIGIN="https://evil.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )
    assert "access-control-allow-origin" not in other
