"""The mute page behind the link in every alert: no login, a signed token names the rule."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from pricewatch.alerts import services
from pricewatch.alerts.models import AlertRule


def _describe(rule: AlertRule) -> str:
    what = rule.get_kind_display()
    if rule.percent is not None:
        what = what.replace("X %", f"{rule.percent.normalize():f} %")
    if rule.days is not None:
        what = what.replace("N days", f"{rule.days} days")
    if rule.scope == AlertRule.Scope.ITEM and rule.item is not None:
        offer = rule.item.offer
        return f"{what} for {offer.title or offer.url}"
    if rule.scope == AlertRule.Scope.WATCHLIST and rule.watchlist is not None:
        return f"{what} for the list {rule.watchlist.name}"
    return f"{what} for all your items"


# The signed token is the credential; mail providers' RFC 8058 one-click POSTs carry no CSRF
# cookie, so this view cannot ask for one.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def mute(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks for confirmation (link scanners only GET); POST mutes."""
    rule = services.rule_from_mute_token(token)
    if rule is None:
        return render(request, "alerts/mute_invalid.html", status=404)
    context = {"rule": rule, "description": _describe(rule)}
    if request.method == "POST":
        services.mute_rule(rule=rule)
        return render(request, "alerts/muted.html", context)
    return render(request, "alerts/mute.html", context)
