from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.accounts.factories import PASSWORD, UserFactory

AUTH = "/_allauth/app/v1"


class Api:
    """A JSON client for the API, as an app would use it."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        raw: bytes | str | None = None,
        **headers: str,
    ) -> Any:
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        if token:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        kwargs: dict[str, Any] = {"content_type": "application/json", **extra}
        if data is not None:
            kwargs["data"] = data
        return getattr(self.client, method.lower())(path, **kwargs)

    def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        response = self.call("POST", f"{AUTH}/auth/login", {"email": email, "password": password})
        assert response.status_code == 200, response.content
        return response.json()["meta"]


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


@pytest.fixture
def user(db: None) -> Any:
    return UserFactory()
