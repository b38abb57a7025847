"""Forms for the web pages. Validation that matters lives in the services; forms shape input."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django import forms

from pricewatch.tracking.services import ScheduleSpec


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    zones = sorted(zone for zone in zoneinfo.available_timezones() if "/" in zone or zone == "UTC")
    return [(zone, zone.replace("_", " ")) for zone in zones]


class ProfileForm(forms.Form):
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    time_zone = forms.ChoiceField(
        choices=time_zone_choices,
        help_text="Schedules and quiet hours use this zone unless a list sets its own.",
    )


# --- tracking pages ----------------------------------------------------------------------------

WEEKDAY_CHOICES = [
    (1, "Mon"),
    (2, "Tue"),
    (3, "Wed"),
    (4, "Thu"),
    (5, "Fri"),
    (6, "Sat"),
    (7, "Sun"),
]


def owner_zone_choices() -> list[tuple[str, str]]:
    return [("", "My time zone (from my profile)"), *time_zone_choices()]


class WatchlistNameForm(forms.Form):
    name = forms.CharField(max_length=200, label="List name")


class AddUrlForm(forms.Form):
    url = forms.CharField(
        max_length=8192,
        label="Product page URL",
        widget=forms.URLInput(attrs={"placeholder": "https://shop.example/products/…"}),
    )


class MoveItemForm(forms.Form):
    to = forms.IntegerField(label="Move to list")


class ItemEditForm(forms.Form):
    target_price = forms.DecimalField(
        required=False,
        max_digits=18,
        decimal_places=4,
        label="Target price",
        help_text="Leave empty for none.",
    )
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ScheduleForm(forms.Form):
    """Times of day on weekdays in a zone, or every N minutes; the service checks the rest."""

    kind = forms.ChoiceField(
        choices=[("times", "At times of day"), ("interval", "Every few minutes")],
        widget=forms.RadioSelect,
        initial="times",
        label="Check",
    )
    times = forms.CharField(
        required=False,
        max_length=48 * 6,
        label="Times of day",
        help_text="24-hour HH:MM, separated by commas, e.g. 09:00, 18:30.",
    )
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAY_CHOICES,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Weekdays",
        help_text="None ticked means every day.",
    )
    time_zone = forms.ChoiceField(choices=owner_zone_choices, required=False, label="Time zone")
    interval_minutes = forms.IntegerField(required=False, min_value=1, label="Interval (minutes)")

    def spec(self) -> ScheduleSpec:
        """The cleaned form as the service's schedule (which checks times, zone, interval)."""
        data = self.cleaned_data
        zone = data.get("time_zone") or ""
        if data["kind"] == "interval":
            return ScheduleSpec(time_zone=zone, interval_minutes=data.get("interval_minutes") or 0)
        times = tuple(part.strip() for part in (data.get("times") or "").split(",") if part.strip())
        return ScheduleSpec(times=times, weekdays=tuple(data.get("weekdays") or ()), time_zone=zone)


class ItemRuleForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[
            ("target_price", "Price at or below"),
            ("drop_from_first", "Price dropped by at least (%) from the first price"),
        ],
        label="Alert me when",
    )
    target_price = forms.DecimalField(
        required=False, max_digits=18, decimal_places=4, min_value=0, label="Target price"
    )
    percent = forms.DecimalField(required=False, max_digits=5, decimal_places=2, label="Drop (%)")
