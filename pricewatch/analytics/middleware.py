"""Counts `GET /api/v1/products/{id}` as a visit, after the response, without catalog knowing."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from pricewatch.analytics import recording

# The Ninja operation of catalog.api.get_product, as the URL resolver names it.
PRODUCT_DETAIL_VIEW = "api:get_product"


class ApiProductViewMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.ANALYTICS_COUNT_API
            and request.method == "GET"
            and response.status_code == 200
            and request.resolver_match is not None
            and request.resolver_match.view_name == PRODUCT_DETAIL_VIEW
        ):
            product_id = request.resolver_match.kwargs.get("product_id")
            if isinstance(product_id, int):
                recording.record_view(request, product_id=product_id, source="api")
        return response
