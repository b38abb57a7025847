"""Web pages: the dashboard, watchlists and tracked items."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, path


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html")


urlpatterns: list[URLPattern | URLResolver] = [path("", home, name="home")]
