from django.apps import AppConfig


class PricingConfig(AppConfig):
    name = "pricewatch.pricing"
    label = "pricing"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Pricing"
