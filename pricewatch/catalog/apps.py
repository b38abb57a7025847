from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "pricewatch.catalog"
    label = "catalog"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Catalog"

    def ready(self) -> None:
        # Imported here: AppConfig.ready: the app's modules need the models loaded.
        from pricewatch.catalog import (  # noqa: PLC0415
            notifications,
        )  # models must be loaded before the app's modules

        # Imported here: AppConfig.ready: the app's modules need the models loaded.
        from pricewatch.core import dispatchers  # noqa: PLC0415

        dispatchers.register(notifications.send_due_notices)
