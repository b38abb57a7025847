"""Forms of the alerts and profile pages. They shape input; the alerts services validate it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from django import forms

from pricewatch.accounts.models import User
from pricewatch.alerts.models import AlertRule, Channel
from pricewatch.tracking import selectors as tracking

# Which parameters each kind of rule takes; the others are ignored (not sent to the service).
KIND_PARAMETERS: Final[dict[str, tuple[str, ...]]] = {
    AlertRule.Kind.DROP_FROM_FIRST: ("percent",),
    AlertRule.Kind.DROP_FROM_PREVIOUS: ("percent",),
    AlertRule.Kind.TARGET_PRICE: ("target_price",),
    AlertRule.Kind.BACK_IN_STOCK: (),
    AlertRule.Kind.LOWEST_IN_DAYS: ("days",),
}
SCOPES: Final = (
    (AlertRule.Scope.ALL, "All my items"),
    (AlertRule.Scope.WATCHLIST, "One list"),
    (AlertRule.Scope.ITEM, "One item"),
)
MAX_ITEM_CHOICES: Final = 1000


def _optional_int(value: str) -> int | None:
    return int(value) if value else None


class RuleForm(forms.Form):
    kind = forms.ChoiceField(label="Alert me when the price", choices=AlertRule.Kind.choices)
    scope = forms.ChoiceField(label="For", choices=SCOPES, initial=AlertRule.Scope.ALL)
    watchlist = forms.TypedChoiceField(
        label="List", coerce=int, empty_value=None, required=False, help_text="When “One list”."
    )
    item = forms.TypedChoiceField(
        label="Item", coerce=int, empty_value=None, required=False, help_text="When “One item”."
    )
    percent = forms.DecimalField(
        label="Drop in %",
        required=False,
        max_digits=5,
        decimal_places=2,
        help_text="Drop rules: 1 to 99.",
    )
    target_price = forms.DecimalField(
        label="Target price",
        required=False,
        max_digits=18,
        decimal_places=4,
        min_value=Decimal(0),
        help_text="Target rules; empty: each item's own target.",
    )
    days = forms.IntegerField(
        label="Lowest in days", required=False, help_text="Lowest-price rules: 1 to 365."
    )
    cooldown_minutes = forms.IntegerField(
        label="Remind again after (minutes)",
        required=False,
        help_text="Empty: only once until the condition resets.",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lists = tracking.watchlists_for(user).values_list("pk", "name")
        self.fields["watchlist"].choices = [("", "\u2014"), *lists]  # type: ignore[attr-defined]
        # Plain values, not model rows: a user may watch a thousand items.
        items = tracking.items_for(user, ordering="title").values_list(
            "pk", "offer__title", "offer__url", "watchlist__name"
        )
        self.fields["item"].choices = [  # type: ignore[attr-defined]
            ("", "\u2014"),
            *(
                (pk, f"{title or url} ({list_name})")
                for pk, title, url, list_name in items[:MAX_ITEM_CHOICES]
            ),
        ]

    def service_arguments(self) -> dict[str, Any]:
        """The keyword arguments for `alerts.services.create_rule` (scope and kind decide which
        of the optional fields are sent)."""
        data = self.cleaned_data
        kind, scope = data["kind"], data["scope"]
        arguments: dict[str, Any] = {
            "kind": kind,
            "scope": scope,
            "cooldown_minutes": data.get("cooldown_minutes"),
            "watchlist_id": data.get("watchlist") if scope == AlertRule.Scope.WATCHLIST else None,
            "item_id": data.get("item") if scope == AlertRule.Scope.ITEM else None,
        }
        for name in KIND_PARAMETERS.get(kind, ()):
            arguments[name] = data.get(name)
        return arguments


class ChannelForm(forms.Form):
    kind = forms.ChoiceField(
        label="Kind",
        choices=[(Channel.Kind.EMAIL, "E-mail address"), (Channel.Kind.APPRISE, "Apprise URL")],
    )
    target = forms.CharField(
        label="Address or URL",
        max_length=2000,
        required=False,
        help_text="An e-mail address, or an Apprise URL such as ntfy://my-topic or "
        "tgram://bottoken/chat_id.",
    )
    name = forms.CharField(label="Name (optional)", max_length=100, required=False)


HOURS: Final = [(hour, f"{hour:02d}:00") for hour in range(24)]


class NotificationSettingsForm(forms.Form):
    quiet_start = forms.TimeField(
        label="Quiet hours from",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="Alerts in quiet hours wait until they end. Empty both to turn off.",
    )
    quiet_end = forms.TimeField(
        label="Quiet hours until",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    digest = forms.BooleanField(label="Send e-mail alerts as one daily digest", required=False)
    digest_hour = forms.TypedChoiceField(
        label="Digest time", choices=HOURS, coerce=int, help_text="In your time zone."
    )
