from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "pricewatch.catalog"
    label = "catalog"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from pricewatch.catalog import (
            notifications,
        )  # models must be loaded before the app's modules
        from pricewatch.core import dispatchers

        dispatchers.register(notifications.send_due_notices)
