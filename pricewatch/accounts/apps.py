from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "pricewatch.accounts"
    label = "accounts"
    verbose_name = "Accounts"
