"""Every write to accounts."""

from __future__ import annotations

import logging

from allauth.account.models import EmailAddress
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from pricewatch.accounts.models import User, validate_time_zone
from pricewatch.core.errors import DomainError

logger = logging.getLogger(__name__)


@transaction.atomic
def ensure_admin(*, email: str, password: str, validate: bool = True) -> tuple[User, bool]:
    """Create the admin, or make the existing account an admin with this password.

    The e-mail address is marked verified, so the admin can log in straight away.
    Returns the user and whether it was created.
    """
    email = User.objects.normalize_email(email.strip()).lower()
    if not email or "@" not in email:
        raise DomainError(f"'{email}' is not an e-mail address.", code="invalid_email")
    user = User.objects.filter(email__iexact=email).first()
    created = user is None
    if user is None:
        user = User(email=email)
    if validate:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise DomainError(" ".join(exc.messages), code="weak_password") from exc
    user.is_staff = True
    user.is_superuser = True
    user.is_active = True
    user.set_password(password)
    user.save()
    EmailAddress.objects.filter(user=user).exclude(email__iexact=email).update(primary=False)
    address, _ = EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    if not (address.verified and address.primary):
        address.verified = True
        address.primary = True
        address.save(update_fields=["verified", "primary"])
    logger.info("admin %s %s", email, "created" if created else "updated")
    return user, created


def update_profile(
    *,
    user: User,
    first_name: str | None = None,
    last_name: str | None = None,
    time_zone: str | None = None,
) -> User:
    changed: list[str] = []
    if first_name is not None:
        user.first_name = first_name.strip()
        changed.append("first_name")
    if last_name is not None:
        user.last_name = last_name.strip()
        changed.append("last_name")
    if time_zone is not None:
        try:
            validate_time_zone(time_zone)
        except ValidationError as exc:
            raise DomainError(
                exc.messages[0], code="invalid", status=422, fields={"time_zone": exc.messages[0]}
            ) from exc
        user.time_zone = time_zone
        changed.append("time_zone")
    if changed:
        user.save(update_fields=changed)
    return user


def ensure_admin_from_settings() -> User | None:
    """Create or update the admin named by PRICEWATCH_ADMIN_EMAIL/PASSWORD, when both are set."""
    # Imported here: settings are read when called, so tests can override them.
    from django.conf import settings  # noqa: PLC0415

    email, password = settings.PRICEWATCH_ADMIN_EMAIL, settings.PRICEWATCH_ADMIN_PASSWORD
    if not (email and password):
        return None
    # An operator chose this password on purpose; the validators are for people signing up.
    user, _ = ensure_admin(email=email, password=password, validate=False)
    return user
