from django.apps import AppConfig


class PricingConfig(AppConfig):
    name = "pricewatch.pricing"
    verbose_name = "Pricing"
