from django.contrib import admin
from django.urls import include, path

from pricewatch.accounts.api import router as accounts_router
from pricewatch.alerts.api import router as alerts_router
from pricewatch.analytics.api import router as analytics_router
from pricewatch.catalog.api import router as catalog_router
from pricewatch.catalog.history_api import router as product_history_router
from pricewatch.catalog.imports_api import router as imports_router
from pricewatch.core import views as core_views
from pricewatch.core.api import api
from pricewatch.offers.api import router as offers_router
from pricewatch.pricing.api import router as pricing_router
from pricewatch.tracking.api import router as tracking_router

api.add_router("/v1/", accounts_router)
api.add_router("/v1/", catalog_router)
api.add_router("/v1/", imports_router)
api.add_router("/v1/", pricing_router)
api.add_router("/v1/", product_history_router)
api.add_router("/v1/", tracking_router)
api.add_router("/v1/", alerts_router)
api.add_router("/v1/", analytics_router)
api.add_router("/v1/", offers_router)

urlpatterns = [
    path("", include("pricewatch.web.urls")),
    path("health", core_views.health_view, name="health"),
    path("ready", core_views.ready_view, name="ready"),
    path("api/", api.urls),
    path("_allauth/", include("allauth.headless.urls")),
    path("accounts/", include("allauth.urls")),
    path("alerts/", include("pricewatch.alerts.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "pricewatch.core.views.bad_request"
handler403 = "pricewatch.core.views.permission_denied"
handler404 = "pricewatch.core.views.page_not_found"
handler500 = "pricewatch.core.views.server_error"
