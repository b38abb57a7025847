from __future__ import annotations

import json
import logging

import pytest
from django.test import Client
from pythonjsonlogger.json import JsonFormatter

from pricewatch.core.logging import ContextFilter, RedactingFilter, redact
from tests.accounts.factories import PASSWORD, UserFactory


def test_redact_removes_tokens_passwords_and_one_time_keys() -> None:
    jwt_like = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXBhcnQ"
    text = (
        f"Authorization: Bearer {jwt_like} password=hunter22 "
        "/accounts/confirm-email/Mg:1xU:abc/ refresh_token: 'abc.def' smtp://u:pw@host"
    )
    cleaned = redact(text)
    for secret in (jwt_like, "hunter22", "Mg:1xU:abc", "abc.def", ":pw@"):
        assert secret not in cleaned


@pytest.mark.django_db
def test_every_request_is_logged_with_request_id_user_and_no_secrets(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    user = UserFactory()
    with caplog.at_level(logging.INFO, logger="pricewatch.request"):
        login = client.post(
            "/_allauth/app/v1/auth/login",
            {"email": user.email, "password": PASSWORD},
            content_type="application/json",
        )
        token = login.json()["meta"]["access_token"]
        response = client.get(
            "/api/v1/me?token=leak",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_X_REQUEST_ID="abc-123",
        )
    assert response["X-Request-ID"] == "abc-123"
    record = next(r for r in caplog.records if getattr(r, "path", "") == "/api/v1/me")
    assert record.request_id == "abc-123"
    assert record.user_id == str(user.pk)
    assert record.status == 200
    assert record.method == "GET"
    assert record.duration_ms >= 0
    assert "leak" not in record.getMessage()  # no query string in the log
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert PASSWORD not in everything
    assert token not in everything


@pytest.mark.django_db
def test_request_id_is_generated_when_missing_or_unsafe(client: Client) -> None:
    generated = client.get("/health")["X-Request-ID"]
    assert len(generated) == 32
    unsafe = client.get("/health", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"]
    assert "\n" not in unsafe and unsafe != "bad id\nwith newline"


def test_json_lines_carry_context_and_redact() -> None:
    record = logging.LogRecord(
        "pricewatch.test", logging.INFO, __file__, 1, "login with password=%s", ("s3cret",), None
    )
    for log_filter in (ContextFilter(), RedactingFilter()):
        log_filter.filter(record)
    formatter = JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
        rename_fields={"levelname": "level"},
    )
    line = json.loads(formatter.format(record))
    assert line["level"] == "INFO"
    assert line["request_id"] == "-"
    assert "s3cret" not in line["message"]
