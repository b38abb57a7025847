"""Bad input to the account API: always our error shape and the right 4xx, never a 500."""

from __future__ import annotations

import time

import jwt
import pytest
import time_machine

from tests.accounts.conftest import AUTH, Api

pytestmark = pytest.mark.django_db


def _assert_error(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.content  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    return body


def test_malformed_json(api: Api, user: object) -> None:
    token = api.login(user.email)["access_token"]  # type: ignore[attr-defined]
    body = _assert_error(api.call("PATCH", "/api/v1/me", raw="{not json", token=token), 400)
    assert "JSON" in body["detail"]  # type: ignore[operator]


def test_extra_and_wrongly_typed_fields_are_named(api: Api, user: object) -> None:
    token = api.login(user.email)["access_token"]  # type: ignore[attr-defined]
    body = _assert_error(
        api.call("PATCH", "/api/v1/me", {"nickname": "x", "first_name": 5}, token=token), 422
    )
    assert body["fields"] == {
        "nickname": "Unknown field.",
        "first_name": "Input should be a valid string",
    }


def test_invalid_time_zone_is_named(api: Api, user: object) -> None:
    token = api.login(user.email)["access_token"]  # type: ignore[attr-defined]
    body = _assert_error(
        api.call("PATCH", "/api/v1/me", {"time_zone": "Mars/Base"}, token=token), 422
    )
    assert "time_zone" in body["fields"]  # type: ignore[operator]


def test_missing_fields_on_sign_up(api: Api) -> None:
    body = _assert_error(api.call("POST", f"{AUTH}/auth/signup", {"email": "a@example.com"}), 400)
    assert "password" in body["fields"]  # type: ignore[operator]


def test_a_ten_megabyte_body_is_refused(api: Api, user: object) -> None:
    token = api.login(user.email)["access_token"]  # type: ignore[attr-defined]
    body = _assert_error(
        api.call("PATCH", "/api/v1/me", raw=b"{" + b" " * (10 * 1024 * 1024) + b"}", token=token),
        413,
    )
    assert body["code"] == "request_too_large"


def test_no_token(api: Api) -> None:
    body = _assert_error(api.call("GET", "/api/v1/me"), 401)
    assert "Bearer" in body["detail"]  # type: ignore[operator]


def test_wrong_authorization_scheme(api: Api) -> None:
    response = api.client.get("/api/v1/me", HTTP_AUTHORIZATION="Token abc")
    assert "Bearer" in _assert_error(response, 401)["detail"]  # type: ignore[operator]


def test_expired_access_token(api: Api, user: object) -> None:
    token = api.login(user.email)["access_token"]  # type: ignore[attr-defined]
    with time_machine.travel(time.time() + 3600, tick=False):
        body = _assert_error(api.call("GET", "/api/v1/me", token=token), 401)
    assert "expired" in body["detail"]  # type: ignore[operator]


def test_tampered_access_token(api: Api, user: object) -> None:
    token = api.login(user.email)["access_token"]  # type: ignore[attr-defined]
    header, _payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["is_staff"] = True
    forged_payload = jwt.encode(claims, "not-the-key-" * 4, algorithm="HS256").split(".")[1]
    body = _assert_error(
        api.call("GET", "/api/v1/me", token=f"{header}.{forged_payload}.{signature}"), 401
    )
    assert "signature" in body["detail"]  # type: ignore[operator]


def test_garbage_token(api: Api) -> None:
    body = _assert_error(api.call("GET", "/api/v1/me", token="garbage"), 401)
    assert "malformed" in body["detail"]  # type: ignore[operator]


def test_refresh_token_used_as_access_token(api: Api, user: object) -> None:
    refresh = api.login(user.email)["refresh_token"]  # type: ignore[attr-defined]
    body = _assert_error(api.call("GET", "/api/v1/me", token=refresh), 401)
    assert "refresh token cannot be used" in body["detail"]  # type: ignore[operator]


def test_access_token_used_as_refresh_token(api: Api, user: object) -> None:
    access = api.login(user.email)["access_token"]  # type: ignore[attr-defined]
    body = _assert_error(api.call("POST", f"{AUTH}/tokens/refresh", {"refresh_token": access}), 400)
    assert body["code"] == "invalid_refresh_token", body


def test_unknown_endpoint_and_method(api: Api) -> None:
    assert _assert_error(api.call("GET", "/api/v1/nowhere"), 404)["code"] == "not_found"
    body = _assert_error(api.call("DELETE", "/api/v1/me"), 405)
    assert "GET" in body["detail"]  # type: ignore[operator]


def test_wrong_credentials(api: Api, user: object) -> None:
    body = _assert_error(
        api.call("POST", f"{AUTH}/auth/login", {"email": user.email, "password": "wrong password"}),
        400,
    )  # type: ignore[attr-defined]
    assert body["fields"]  # names the field that is wrong


def test_login_rate_limit_answers_429(api: Api, user: object) -> None:
    responses = [
        api.call("POST", f"{AUTH}/auth/login", {"email": user.email, "password": "wrong password"})  # type: ignore[attr-defined]
        for _ in range(12)
    ]
    statuses = [response.status_code for response in responses]
    assert 429 in statuses, responses[-1].json()
    _assert_error(responses[statuses.index(429)], 429)
