"""Forms for the web pages. Validation that matters lives in the services; forms shape input."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django import forms


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
