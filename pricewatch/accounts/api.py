from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from pricewatch.accounts import services
from pricewatch.accounts.models import User
from pricewatch.accounts.schemas import MeOut, MePatch
from pricewatch.core.auth import access_token

router = Router(tags=["profile"], auth=access_token)


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@router.get("/me", response=MeOut, summary="Your profile")
def get_me(request: HttpRequest) -> User:
    return _user(request)


@router.patch("/me", response=MeOut, summary="Change your name or time zone")
def patch_me(request: HttpRequest, payload: MePatch) -> User:
    data = payload.model_dump(exclude_unset=True)
    return services.update_profile(user=_user(request), **data)
