"""The web pages, one module per area (see pricewatch/web/pages/)."""

from __future__ import annotations

from pricewatch.web.pages import account, alerts, analytics, catalog, tracking

app_name = "web"
urlpatterns = [
    *tracking.urlpatterns,
    *catalog.urlpatterns,
    *alerts.urlpatterns,
    *analytics.urlpatterns,
    *account.urlpatterns,
]
