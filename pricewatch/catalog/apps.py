from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "pricewatch.catalog"
    label = "catalog"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Catalog"
