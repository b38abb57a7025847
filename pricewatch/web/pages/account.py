"""Web pages: the profile (names, time zone) and notification settings (quiet hours, digest).

Sign-in, password and e-mail addresses are allauth's pages (linked from the profile).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path
from django.views.decorators.http import require_http_methods, require_POST

from pricewatch.accounts import services as accounts
from pricewatch.accounts.models import User
from pricewatch.alerts import services as alerts
from pricewatch.core.errors import DomainError
from pricewatch.web.forms import ProfileForm
from pricewatch.web.forms_alerts import NotificationSettingsForm


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _place_errors(form: forms.Form, error: DomainError) -> None:
    placed = False
    for field, message in error.fields.items():
        if field in form.fields:
            form.add_error(field, message)
            placed = True
    if not placed:
        form.add_error(None, error.detail)


def _render(
    request: HttpRequest,
    *,
    form: ProfileForm | None = None,
    notification_form: NotificationSettingsForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    if form is None:
        form = ProfileForm(
            initial={
                "first_name": user.first_name,
                "last_name": user.last_name,
                "time_zone": user.time_zone,
            }
        )
    if notification_form is None:
        preferences = alerts.ensure_defaults(user=user)
        notification_form = NotificationSettingsForm(
            initial={
                "quiet_start": preferences.quiet_start,
                "quiet_end": preferences.quiet_end,
                "digest": preferences.digest,
                "digest_hour": preferences.digest_hour,
            }
        )
    context: dict[str, Any] = {"form": form, "notification_form": notification_form}
    return render(request, "web/account/profile.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _render(request)
    form = ProfileForm(request.POST)
    if form.is_valid():
        try:
            accounts.update_profile(user=_user(request), **form.cleaned_data)
        except DomainError as error:
            _place_errors(form, error)
        else:
            messages.success(request, "Profile saved.")
            return redirect("web:profile")
    return _render(request, form=form, status=422)


@login_required
@require_POST
def notification_settings(request: HttpRequest) -> HttpResponse:
    form = NotificationSettingsForm(request.POST)
    if form.is_valid():
        try:
            alerts.update_preferences(user=_user(request), **form.cleaned_data)
        except DomainError as error:
            _place_errors(form, error)
        else:
            messages.success(request, "Notification settings saved.")
            return redirect("web:profile")
    return _render(request, notification_form=form, status=422)


urlpatterns: list[URLPattern | URLResolver] = [
    path("profile/", profile, name="profile"),
    path("profile/notifications", notification_settings, name="notification_settings"),
]
