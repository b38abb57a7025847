"""The `pricewatch` command: our commands and every Django management command, in one place.

pricewatch run                  web + worker + scheduler, embedded (what `make run` does)
pricewatch web --host --port    the web server (ASGI)
pricewatch worker               a Celery worker
pricewatch scheduler            the periodic scheduler (exactly one at scale)
pricewatch createadmin          create or update an admin account
pricewatch migrate, shell, ...  any Django management command
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricewatch.settings")
    # Imported here: Django is set up by execute_from_command_line, after DJANGO_SETTINGS_MODULE.
    from django.core.management import execute_from_command_line  # noqa: PLC0415

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(__doc__)
        args = ["help"]
    execute_from_command_line(["pricewatch", *args])


if __name__ == "__main__":
    main()
