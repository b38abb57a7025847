"""Values every page may use."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, str]:
    # Shown next to "add a product" so a first visitor has something to track offline.
    return {"demo_shop_url": settings.DEMO_SHOP_URL}
