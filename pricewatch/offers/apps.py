from django.apps import AppConfig


class OffersConfig(AppConfig):
    name = "pricewatch.offers"
    verbose_name = "Offers service"

    def ready(self) -> None:
        # Imported once the models are loaded: registration and polling run on the dispatcher.
        from pricewatch.core import dispatchers  # noqa: PLC0415
        from pricewatch.offers import services  # noqa: PLC0415

        dispatchers.register(services.dispatch_due)
