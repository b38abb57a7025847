from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "pricewatch.catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        # Imported once the models are loaded: the admins' notices go out on the dispatcher's tick.
        from pricewatch.catalog import notifications  # noqa: PLC0415
        from pricewatch.core import dispatchers  # noqa: PLC0415

        dispatchers.register(notifications.send_due_notices)
