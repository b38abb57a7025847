"""What an alert says: the e-mail (text + HTML, image, old → new price, %, chart and mute links),
the digest, the test message, and the short text sent through Apprise."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from pricewatch.alerts import links
from pricewatch.alerts.models import AlertRule, Notification
from pricewatch.core import money

HEADLINES: dict[str, str] = {
    AlertRule.Kind.DROP_FROM_FIRST: "{percent} % below its first price",
    AlertRule.Kind.DROP_FROM_PREVIOUS: "dropped {percent} %",
    AlertRule.Kind.TARGET_PRICE: "reached your target price",
    AlertRule.Kind.BACK_IN_STOCK: "is back in stock",
    AlertRule.Kind.LOWEST_IN_DAYS: "at its lowest price in {days} days",
}


def money_text(value: Decimal | None, currency: str = "") -> str:
    """A price as the mail shows it ("€65.00"), in the site's language; "-" when unknown."""
    if value is None:
        return "-"
    locale = translation.to_locale(translation.get_language() or settings.LANGUAGE_CODE)
    return money.format_money(value, currency, locale=locale)


def alert_context(notification: Notification) -> dict[str, Any]:
    offer = notification.offer
    rule = notification.rule
    title = offer.title or offer.url or f"Offer {offer.pk}"
    change_percent = _change_percent(notification.old_price, notification.new_price)
    headline = HEADLINES.get(notification.kind, "changed").format(
        percent=_plain(notification.percent),
        days=rule.days if rule and rule.days else "N",
    )
    return {
        "notification": notification,
        "title": title,
        "headline": headline,
        "image_url": offer.image_url,
        "shop_url": offer.url or "",
        "old_price": money_text(notification.old_price, notification.currency),
        "new_price": money_text(notification.new_price, notification.currency),
        "reference_price": money_text(notification.reference_price, notification.currency),
        "reference_label": _reference_label(notification.kind),
        "change_percent": change_percent,
        "percent": _plain(notification.percent),
        "availability": notification.availability.replace("_", " "),
        "chart_url": links.chart_url(notification.item_id, offer.url),
        "mute_url": links.mute_url(notification.rule_id) if notification.rule_id else "",
        "rule": rule,
    }


def _plain(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = f"{value.quantize(Decimal('0.1')):f}"
    return text[:-2] if text.endswith(".0") else text


def _change_percent(old: Decimal | None, new: Decimal | None) -> str:
    """'-35' style change of the current price against the previous one."""
    if old is None or new is None or old <= 0:
        return ""
    value = (new - old) * 100 / old
    text = _plain(abs(value))
    return f"{'-' if value < 0 else '+'}{text}"


def _reference_label(kind: str) -> str:
    labels: dict[str, str] = {
        AlertRule.Kind.DROP_FROM_FIRST: "first price",
        AlertRule.Kind.DROP_FROM_PREVIOUS: "previous price",
        AlertRule.Kind.TARGET_PRICE: "your target",
        AlertRule.Kind.LOWEST_IN_DAYS: "lowest in the period",
    }
    return labels.get(kind, "")


def _message(
    template: str, context: dict[str, Any], to: str, headers: dict[str, str] | None = None
) -> EmailMultiAlternatives:
    subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}",
        body=render_to_string(f"{template}.txt", context),
        to=[to],
        headers=headers or {},
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    return message


def _unsubscribe_headers(mute_url: str) -> dict[str, str]:
    if not mute_url:
        return {}
    # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" to the URL.
    return {
        "List-Unsubscribe": f"<{mute_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def alert_email(notification: Notification, to: str) -> EmailMultiAlternatives:
    context = alert_context(notification)
    return _message("alerts/email/alert", context, to, _unsubscribe_headers(context["mute_url"]))


def digest_email(notifications: Sequence[Notification], to: str) -> EmailMultiAlternatives:
    alerts = [alert_context(notification) for notification in notifications]
    return _message("alerts/email/digest", {"alerts": alerts, "count": len(alerts)}, to)


def test_email(to: str) -> EmailMultiAlternatives:
    return _message("alerts/email/test", {"site_url": settings.SITE_URL}, to)


def apprise_text(notification: Notification) -> tuple[str, str]:
    context = alert_context(notification)
    title = f"{context['title'][:120]} {context['headline']}"
    lines = [f"{context['old_price']} → {context['new_price']}"]
    if context["change_percent"]:
        lines[0] += f" ({context['change_percent']} %)"
    if context["reference_label"] and notification.reference_price is not None:
        lines.append(f"{context['reference_label']}: {context['reference_price']}")
    if notification.kind == AlertRule.Kind.BACK_IN_STOCK:
        lines.append(f"availability: {context['availability']}")
    lines.append(context["chart_url"])
    if context["mute_url"]:
        lines.append(f"Mute this alert: {context['mute_url']}")
    return title, "\n".join(lines)
