from __future__ import annotations

from datetime import datetime

from ninja import Schema
from pydantic import Field

from pricewatch.core.api import StrictSchema


class MeOut(Schema):
    id: int
    email: str
    first_name: str
    last_name: str
    name: str
    time_zone: str
    is_staff: bool
    date_joined: datetime

    @staticmethod
    def resolve_name(user: object) -> str:
        return str(getattr(user, "full_name", ""))


class MePatch(StrictSchema):
    first_name: str | None = Field(default=None, max_length=150)
    last_name: str | None = Field(default=None, max_length=150)
    time_zone: str | None = Field(default=None, max_length=64, examples=["Europe/Berlin"])
