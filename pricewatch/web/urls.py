"""The web pages, one module per area (see pricewatch/web/pages/)."""

from __future__ import annotations

from pricewatch.web.pages import account, alerts, catalog, tracking

app_name = "web"
urlpatterns = [
    *tracking.urlpatterns,
    *catalog.urlpatterns,
    *alerts.urlpatterns,
    *account.urlpatterns,
]
