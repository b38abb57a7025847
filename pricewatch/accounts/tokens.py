"""The JWT token strategy: allauth's, with the claims our clients need."""

from __future__ import annotations

from typing import Any

from allauth.headless.tokens.strategies.jwt import JWTTokenStrategy
from django.contrib.auth.base_user import AbstractBaseUser


class TokenStrategy(JWTTokenStrategy):
    def get_claims(self, user: AbstractBaseUser) -> dict[str, Any]:
        return {
            "user_id": user.pk,
            "email": getattr(user, "email", ""),
            "name": getattr(user, "full_name", ""),
            "is_staff": bool(getattr(user, "is_staff", False)),
        }
