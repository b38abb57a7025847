"""Secrets that the embedded mode generates once and keeps under the var directory."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path


def _read_or_create(path: Path, make: Callable[[], str]) -> str:
    """Return the file's content, creating it first when missing.

    Web and worker processes start together and may both find the file missing: the value is
    written to a private temporary file and linked into place, so exactly one value wins and every
    process reads that one.
    """
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(make())
    with contextlib.suppress(FileExistsError):
        os.link(temporary, path)
    temporary.unlink()
    return path.read_text().strip()


def read_or_create_secret_key(path: Path) -> str:
    return _read_or_create(path, lambda: secrets.token_urlsafe(50))


def read_or_create_rsa_key(path: Path) -> str:
    """An RSA private key (PEM) for signing the API's JWTs."""

    def make() -> str:
        # Imported here: cryptography only on the first start, to make the key.
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return key.private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        ).decode()

    return _read_or_create(path, make) + "\n"
