from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from pricewatch.accounts import services as accounts


class Command(BaseCommand):
    help = (
        "Run everything in one go (the embedded mode): migrate, then start the web server and a "
        "worker with the scheduler embedded. Ctrl-C stops them all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1)."
        )
        parser.add_argument("--port", type=int, default=8000, help="Port (default 8000).")
        parser.add_argument(
            "--concurrency", type=int, default=2, help="Worker processes (default 2)."
        )
        parser.add_argument(
            "--demo-shop",
            action=argparse.BooleanOptionalAction,
            default=settings.RUN_DEMO_SHOP,
            help=f"Also serve the demo shop on 127.0.0.1:{settings.DEMO_SHOP_PORT} "
            "(default: on in the embedded mode; RUN_DEMO_SHOP, DEMO_SHOP_PORT).",
        )

    def handle(
        self,
        *args: Any,
        host: str,
        port: int,
        concurrency: int,
        demo_shop: bool,
        **options: Any,
    ) -> None:
        self.stdout.write("Applying database migrations…")
        call_command("migrate", interactive=False, verbosity=0)
        admin = accounts.ensure_admin_from_settings()
        python = [sys.executable, "-m", "pricewatch"]
        commands = {
            "web": [*python, "web", "--host", host, "--port", str(port)],
            "worker": [*python, "worker", "--beat", "--concurrency", str(concurrency)],
        }
        if demo_shop:
            commands["demo shop"] = [*python, "demo-shop", "--port", str(settings.DEMO_SHOP_PORT)]
        children = {name: subprocess.Popen(argv) for name, argv in commands.items()}
        shown_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104
        self.stdout.write(
            self.style.SUCCESS(
                f"\npricewatch is running at http://{shown_host}:{port}/   (Ctrl-C stops it)\n"
                f"  data: {settings.VAR_DIR}   mail: {settings.MAIL_DIR}"
                + (f"   admin: {admin.email}" if admin else "")
                + (
                    f"\n  demo shop: http://127.0.0.1:{settings.DEMO_SHOP_PORT}/   (track its "
                    "products without the internet)"
                    if demo_shop
                    else ""
                )
                + "\n"
            )
        )

        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, child in list(children.items()):
                if child.poll() is None:
                    continue
                if name == "demo shop":
                    # A nice-to-have: its port may be taken. The site runs on without it.
                    self.stderr.write(
                        f"the demo shop exited (status {child.returncode}; is port "
                        f"{settings.DEMO_SHOP_PORT} taken?); pricewatch runs on without it."
                    )
                    del children[name]
                    continue
                self.stderr.write(f"{name} exited with status {child.returncode}; stopping.")
                exit_code = child.returncode or 1
                stopping = True
            time.sleep(0.2)
        self._stop_all(children)
        if exit_code:
            sys.exit(exit_code)

    def _stop_all(self, children: dict[str, subprocess.Popen[bytes]]) -> None:
        self.stdout.write("Stopping…")
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 20
        for name, child in children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in time; killing it.")
                child.kill()
                child.wait()
        self.stdout.write("Stopped.")
