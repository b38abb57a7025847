"""Links in alerts: the item's chart page and the one-click mute link (signed, no login)."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

MUTE_SALT = "pricewatch.alerts.mute"


def mute_token(rule_id: int) -> str:
    # No timestamp: the link in a year-old mail must still mute (muting is harmless and undone
    # with one click in the account).
    return signing.Signer(salt=MUTE_SALT).sign_object({"rule": rule_id})


def rule_id_from_token(token: str) -> int | None:
    """The rule a mute token names, or None when the token is forged or mangled."""
    try:
        data = signing.Signer(salt=MUTE_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError):
        return None
    rule_id = data.get("rule") if isinstance(data, dict) else None
    return rule_id if isinstance(rule_id, int) else None


def mute_url(rule_id: int) -> str:
    return settings.SITE_URL + reverse("alerts:mute", args=[mute_token(rule_id)])


def chart_url(item_id: int | None, offer_url: str | None = None) -> str:
    """The item's page with its price chart (served by the web pages under /watchlists/)."""
    if item_id is None:
        return offer_url or settings.SITE_URL
    return f"{settings.SITE_URL}/watchlists/items/{item_id}"
