"""The account journey through the API: sign up, verify, log in, tokens, profile, log out."""

from __future__ import annotations

import re

import jwt
import pytest
from django.core import mail

from tests.accounts.conftest import AUTH, Api
from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _link(pattern: str) -> str:
    body = mail.outbox[-1].body
    match = re.search(pattern, body)
    assert match, body
    return match.group(1)


def test_sign_up_verify_log_in_refresh_and_log_out(api: Api) -> None:
    # given a new user signs up
    response = api.call(
        "POST",
        f"{AUTH}/auth/signup",
        {
            "email": "Ann@Example.com",
            "password": "a long enough pass phrase",
            "first_name": "Ann",
        },
    )
    assert response.status_code == 401  # allauth: signed up, e-mail verification pending
    assert response.json()["code"] == "email_not_verified"
    assert mail.outbox[-1].to == ["ann@example.com"]
    key = _link(r"/accounts/confirm-email/([^/\s]+)/")

    # when they try to log in before verifying, they are told why not
    response = api.call(
        "POST",
        f"{AUTH}/auth/login",
        {"email": "ann@example.com", "password": "a long enough pass phrase"},
    )
    assert response.status_code == 401
    assert "not verified" in response.json()["detail"]

    # when they verify and log in
    response = api.call("POST", f"{AUTH}/auth/email/verify", {"key": key})
    assert response.status_code in {200, 401}
    tokens = api.login("ann@example.com", "a long enough pass phrase")

    # then the access token carries our claims
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["email"] == "ann@example.com"
    assert claims["name"] == "Ann"
    assert claims["is_staff"] is False
    assert claims["user_id"] == int(claims["sub"])

    me = api.call("GET", "/api/v1/me", token=tokens["access_token"])
    assert me.status_code == 200
    assert me.json()["email"] == "ann@example.com"
    assert me.json()["first_name"] == "Ann"

    # and the refresh token gives a new access token (and a rotated refresh token)
    refreshed = api.call(
        "POST", f"{AUTH}/tokens/refresh", {"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200
    new_refresh = refreshed.json()["data"]["refresh_token"]
    new_access = refreshed.json()["data"]["access_token"]
    assert api.call("GET", "/api/v1/me", token=new_access).status_code == 200

    # when they log out
    out = api.call("DELETE", f"{AUTH}/auth/session", token=new_access)
    assert out.status_code == 401  # allauth: no longer authenticated

    # then neither the refresh token nor the access token works any more
    again = api.call("POST", f"{AUTH}/tokens/refresh", {"refresh_token": new_refresh})
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_refresh_token"
    denied = api.call("GET", "/api/v1/me", token=new_access)
    assert denied.status_code == 401
    assert "revoked" in denied.json()["detail"]


def test_an_old_refresh_token_is_refused_after_rotation(api: Api, user: object) -> None:
    tokens = api.login(user.email)  # type: ignore[attr-defined]
    first = api.call("POST", f"{AUTH}/tokens/refresh", {"refresh_token": tokens["refresh_token"]})
    assert first.status_code == 200
    replay = api.call("POST", f"{AUTH}/tokens/refresh", {"refresh_token": tokens["refresh_token"]})
    assert replay.status_code == 400
    assert replay.json()["code"] == "invalid_refresh_token"


def test_staff_claim_is_true_for_admins(api: Api) -> None:
    admin = UserFactory(is_staff=True)
    claims = jwt.decode(api.login(admin.email)["access_token"], options={"verify_signature": False})
    assert claims["is_staff"] is True


def test_duplicate_email_in_another_letter_case_is_refused(api: Api, user: object) -> None:
    response = api.call(
        "POST",
        f"{AUTH}/auth/signup",
        {"email": user.email.upper(), "password": "another long pass phrase"},
    )  # type: ignore[attr-defined]
    assert response.status_code == 400
    body = response.json()
    assert body["fields"]["email"]
    assert "already" in body["detail"]


def test_weak_password_is_refused_with_the_validators_reason(api: Api) -> None:
    response = api.call(
        "POST", f"{AUTH}/auth/signup", {"email": "bob@example.com", "password": "12345678"}
    )
    assert response.status_code == 400
    assert "password" in response.json()["fields"]


def test_password_reset_by_email(api: Api, user: object) -> None:
    email = user.email  # type: ignore[attr-defined]
    response = api.call("POST", f"{AUTH}/auth/password/request", {"email": email})
    assert response.status_code == 200
    key = _link(r"/accounts/password/reset/key/([^/\s]+)/")
    response = api.call(
        "POST", f"{AUTH}/auth/password/reset", {"key": key, "password": "a brand new pass phrase"}
    )
    assert response.status_code in {200, 401}
    api.login(email, "a brand new pass phrase")


def test_password_change(api: Api, user: object) -> None:
    tokens = api.login(user.email)  # type: ignore[attr-defined]
    wrong = api.call(
        "POST",
        f"{AUTH}/account/password/change",
        {"current_password": "nope", "new_password": "a brand new pass phrase"},
        token=tokens["access_token"],
    )
    assert wrong.status_code == 400
    assert "current_password" in wrong.json()["fields"]
    ok = api.call(
        "POST",
        f"{AUTH}/account/password/change",
        {"current_password": PASSWORD, "new_password": "a brand new pass phrase"},
        token=tokens["access_token"],
    )
    assert ok.status_code == 200
    api.login(user.email, "a brand new pass phrase")  # type: ignore[attr-defined]


def test_patch_me_changes_names_and_time_zone(api: Api, user: object) -> None:
    token = api.login(user.email)["access_token"]  # type: ignore[attr-defined]
    response = api.call(
        "PATCH", "/api/v1/me", {"first_name": "Grace", "time_zone": "Europe/Berlin"}, token=token
    )
    assert response.status_code == 200
    assert response.json()["first_name"] == "Grace"
    assert response.json()["time_zone"] == "Europe/Berlin"
    assert response.json()["last_name"] == "Lovelace"  # untouched
