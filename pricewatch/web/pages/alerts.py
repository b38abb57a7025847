"""Web pages: alerts. The user's rules, channels and notification history on one page.

Every change is a POST that calls one `alerts.services` function and redirects back (so the
page works without JavaScript); the selectors scope every row to its owner, so another
user's rule, channel or notification is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path, reverse
from django.views.decorators.http import require_GET, require_POST

from pricewatch.accounts.models import User
from pricewatch.alerts import selectors, services
from pricewatch.alerts.models import AlertRule, Channel, Notification
from pricewatch.core.errors import DomainError
from pricewatch.web.forms_alerts import ChannelForm, RuleForm

NOTIFICATIONS_PAGE_SIZE: Final = 20
T = TypeVar("T")
# A field the service names in its error, to the form field that shows it.
RULE_FIELDS: Final = {"item_id": "item", "watchlist_id": "watchlist"}


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _owned(find: Callable[[User, int], T], request: HttpRequest, pk: int) -> T:
    try:
        return find(_user(request), pk)
    except DomainError as error:
        raise Http404(error.detail) from error


def _add_errors(form: forms.Form, error: DomainError, names: dict[str, str]) -> None:
    """The service's message on the field it names (or on the form)."""
    placed = False
    for field, message in error.fields.items():
        name = names.get(field, field)
        if name in form.fields:
            form.add_error(name, message)
            placed = True
    if not placed:
        form.add_error(None, error.detail)


def _describe_scope(rule: AlertRule) -> str:
    if rule.scope == AlertRule.Scope.ITEM and rule.item is not None:
        return f"Item: {rule.item.offer.title or rule.item.offer.url}"
    if rule.scope == AlertRule.Scope.WATCHLIST and rule.watchlist is not None:
        return f"List: {rule.watchlist.name}"
    return "All my items"


def _describe_parameters(rule: AlertRule) -> str:
    parts = []
    if rule.percent is not None:
        parts.append(f"{rule.percent.normalize():f} %")
    if rule.target_price is not None:
        parts.append(f"at most {rule.target_price.normalize():f}")
    elif rule.kind == AlertRule.Kind.TARGET_PRICE:
        parts.append("each item's target price")
    if rule.days is not None:
        parts.append(f"{rule.days} days")
    if rule.cooldown_minutes:
        parts.append(f"again after {rule.cooldown_minutes} min")
    return ", ".join(parts) or "\u2013"


def _page(
    request: HttpRequest,
    *,
    rule_form: RuleForm | None = None,
    channel_form: ChannelForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    services.ensure_defaults(user=user)
    rules = list(selectors.rules_for(user).select_related("item__offer", "watchlist"))
    for rule in rules:
        rule.scope_text = _describe_scope(rule)  # type: ignore[attr-defined]
        rule.parameters_text = _describe_parameters(rule)  # type: ignore[attr-defined]
    state = request.GET.get("status", "")
    if state not in Notification.Status.values:
        state = ""
    notifications = Paginator(
        selectors.notifications_for(user, status=state or None), NOTIFICATIONS_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    context = {
        "rules": rules,
        "channels": list(selectors.channels_for(user)),
        "notifications": notifications,
        "status_filter": state,
        "statuses": Notification.Status.choices,
        "rule_form": rule_form or RuleForm(user=user),
        "channel_form": channel_form or ChannelForm(),
        "resendable": {Notification.Status.FAILED, Notification.Status.MUTED},
    }
    return render(request, "web/alerts/page.html", context, status=status)


def _back(anchor: str) -> HttpResponse:
    return redirect(f"{reverse('web:alerts')}#{anchor}")


@login_required
@require_GET
def alerts_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


# --- rules ---------------------------------------------------------------------------------


@login_required
@require_POST
def create_rule(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = RuleForm(request.POST, user=user)
    if form.is_valid():
        try:
            services.create_rule(owner=user, **form.service_arguments())
        except DomainError as error:
            _add_errors(form, error, RULE_FIELDS)
        else:
            messages.success(request, "Alert rule added.")
            return _back("rules")
    return _page(request, rule_form=form, status=422)


@login_required
@require_POST
def toggle_rule(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = _owned(selectors.rule_for, request, rule_id)
    try:
        rule = services.update_rule(rule=rule, enabled=not rule.enabled)
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, "Rule turned on." if rule.enabled else "Rule turned off.")
    return _back("rules")


@login_required
@require_POST
def delete_rule(request: HttpRequest, rule_id: int) -> HttpResponse:
    services.delete_rule(rule=_owned(selectors.rule_for, request, rule_id))
    messages.success(request, "Alert rule deleted.")
    return _back("rules")


# --- channels ------------------------------------------------------------------------------


@login_required
@require_POST
def create_channel(request: HttpRequest) -> HttpResponse:
    form = ChannelForm(request.POST)
    if form.is_valid():
        try:
            services.create_channel(owner=_user(request), **form.cleaned_data)
        except DomainError as error:
            _add_errors(form, error, {})
        else:
            messages.success(request, "Channel added. Send a test to check that it works.")
            return _back("channels")
    return _page(request, channel_form=form, status=422)


@login_required
@require_POST
def toggle_channel(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _owned(selectors.channel_for, request, channel_id)
    channel = services.update_channel(channel=channel, enabled=not channel.enabled)
    messages.success(request, "Channel turned on." if channel.enabled else "Channel turned off.")
    return _back("channels")


@login_required
@require_POST
def delete_channel(request: HttpRequest, channel_id: int) -> HttpResponse:
    services.delete_channel(channel=_owned(selectors.channel_for, request, channel_id))
    messages.success(request, "Channel removed.")
    return _back("channels")


def _channel_label(channel: Channel) -> str:
    return channel.name or channel.target or f"your account address ({channel.owner.email})"


@login_required
@require_POST
def test_channel(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _owned(selectors.channel_for, request, channel_id)
    error = services.test_channel(channel=channel)
    if error:
        messages.error(request, f"The test to {_channel_label(channel)} failed: {error}")
    else:
        messages.success(request, f"Test notification sent to {_channel_label(channel)}.")
    return _back("channels")


# --- notifications -------------------------------------------------------------------------


@login_required
@require_POST
def resend_notification(request: HttpRequest, notification_id: int) -> HttpResponse:
    notification = _owned(selectors.notification_for, request, notification_id)
    try:
        services.resend_notification(notification=notification)
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, "Queued to be sent again.")
    return _back("history")


urlpatterns: list[URLPattern | URLResolver] = [
    path("notifications/", alerts_page, name="alerts"),
    path("notifications/rules/", create_rule, name="alert_rule_create"),
    path("notifications/rules/<int:rule_id>/toggle", toggle_rule, name="alert_rule_toggle"),
    path("notifications/rules/<int:rule_id>/delete", delete_rule, name="alert_rule_delete"),
    path("notifications/channels/", create_channel, name="alert_channel_create"),
    path(
        "notifications/channels/<int:channel_id>/toggle",
        toggle_channel,
        name="alert_channel_toggle",
    ),
    path(
        "notifications/channels/<int:channel_id>/delete",
        delete_channel,
        name="alert_channel_delete",
    ),
    path("notifications/channels/<int:channel_id>/test", test_channel, name="alert_channel_test"),
    path(
        "notifications/<int:notification_id>/resend",
        resend_notification,
        name="alert_notification_resend",
    ),
]
