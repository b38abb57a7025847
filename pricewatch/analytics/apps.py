from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "pricewatch.analytics"
    verbose_name = "Visit analytics"

    def ready(self) -> None:
        # Imported once the models are loaded: buffered views are written on the dispatcher's tick.
        from pricewatch.analytics import services  # noqa: PLC0415
        from pricewatch.core import dispatchers  # noqa: PLC0415

        dispatchers.register(services.flush_on_tick)
