"""API authentication: allauth's JWT access tokens, with errors that say what is wrong."""

from __future__ import annotations

import time
from typing import Any

import jwt
from allauth.core.internal.httpkit import get_authorization_credential
from allauth.headless import app_settings
from allauth.headless.contrib.ninja.security import JWTTokenAuth
from django.http import HttpRequest
from ninja.errors import AuthorizationError


def describe_token_problem(token: str) -> str:
    """Explain why an access token was refused (it was already refused; this is only wording)."""
    try:
        payload = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return "The access token is malformed."
    try:
        # Imported here: allauth's internal JWT config, only when a token is refused.
        from allauth.headless.tokens.strategies.jwt import internal  # noqa: PLC0415

        config = internal._get_jwt_config()
        jwt.decode(
            token,
            key=config.verifying_key,
            algorithms=[config.algorithm],
            options={"verify_exp": False, "verify_aud": False, "verify_iss": False},
        )
    except jwt.PyJWTError:
        return "The access token's signature is invalid."
    except Exception:  # allauth internals moved: fall back to the generic wording
        return "The access token is invalid."
    if payload.get("token_use") == "refresh":
        return (
            "A refresh token cannot be used as an access token; exchange it at "
            "POST /_allauth/app/v1/tokens/refresh."
        )
    if payload.get("token_use") != "access":
        return "The access token is invalid."
    exp = payload.get("exp")
    if isinstance(exp, int | float) and exp <= time.time():
        return "The access token has expired; get a new one with your refresh token."
    return "The access token has been revoked (the session was logged out)."


class AccessTokenAuth(JWTTokenAuth):
    """allauth's Ninja security class; remembers why a token failed for the 401 message."""

    def __call__(self, request: HttpRequest) -> Any:
        result = super().__call__(request)
        if result is None:
            token = get_authorization_credential(
                request, app_settings.JWT_AUTHORIZATION_HEADER_SCHEME
            )
            if token:
                request.auth_problem = describe_token_problem(token)  # type: ignore[attr-defined]
            elif request.headers.get("Authorization"):
                request.auth_problem = (  # type: ignore[attr-defined]
                    "The Authorization header must be 'Bearer <access token>'."
                )
        return result


class StaffAccessTokenAuth(AccessTokenAuth):
    """Like AccessTokenAuth, and the user must be staff (an admin); otherwise 403."""

    def __call__(self, request: HttpRequest) -> Any:
        result = super().__call__(request)
        if result is not None and not request.user.is_staff:
            raise AuthorizationError(message="Only administrators can do this.")
        return result


access_token = AccessTokenAuth()
staff_access_token = StaffAccessTokenAuth()
