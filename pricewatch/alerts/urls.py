from __future__ import annotations

from django.urls import URLPattern, path

from pricewatch.alerts import views

app_name = "alerts"
urlpatterns: list[URLPattern] = [
    path("mute/<str:token>", views.mute, name="mute"),
]
