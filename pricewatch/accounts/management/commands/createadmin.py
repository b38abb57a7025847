from __future__ import annotations

import getpass
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pricewatch.accounts import services
from pricewatch.core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Create an admin account, or make an existing account an admin with a new password. "
        "Asks for what is not given (or reads PRICEWATCH_ADMIN_EMAIL / PRICEWATCH_ADMIN_PASSWORD)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default=os.environ.get("PRICEWATCH_ADMIN_EMAIL"))
        parser.add_argument(
            "--password",
            default=os.environ.get("PRICEWATCH_ADMIN_PASSWORD"),
            help="Prefer the prompt or the environment: arguments end up in shell history.",
        )
        parser.add_argument("--no-input", action="store_true", help="Never prompt.")

    def handle(
        self, *args: Any, email: str | None, password: str | None, no_input: bool, **options: Any
    ) -> None:
        if not email:
            if no_input:
                raise CommandError("--email is required with --no-input.")
            email = input("E-mail: ").strip()
        if not password:
            if no_input:
                raise CommandError("--password is required with --no-input.")
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords differ.")
        try:
            user, created = services.ensure_admin(email=email, password=password)
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} admin {user.email}."))
