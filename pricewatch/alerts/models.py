"""Alert rules, where alerts go, and every alert delivered (or tried).

A rule watches one item, one watchlist or all of its owner's items. Evaluation reads the pricing
outbox (`PriceChange`) after commit and keeps one `RuleState` per (rule, offer), so it never
rescans the history. A firing leaves one `Notification` per channel, keyed by (rule, offer, n-th
firing, channel) so nothing is sent twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from pricewatch.core.models import Deliverable
from pricewatch.pricing.models import MoneyField


class AlertPreferences(models.Model):
    """Per-user delivery settings. Its existence also means the user's defaults were created."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_preferences"
    )
    # Local times in the user's time zone; both set means quiet hours are on.
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    digest = models.BooleanField(
        default=False, help_text="Bundle the day's e-mail alerts into one mail."
    )
    digest_hour = models.PositiveSmallIntegerField(
        default=8, help_text="Local hour (0-23) at which the digest is sent."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "alert preferences"
        constraints = [
            models.CheckConstraint(condition=Q(digest_hour__lte=23), name="alertprefs_digest_hour"),
        ]

    def __str__(self) -> str:
        return f"alert preferences of {self.user_id}"


class AlertRule(models.Model):
    class Kind(models.TextChoices):
        DROP_FROM_FIRST = "drop_from_first", "Dropped X % below the first price"
        DROP_FROM_PREVIOUS = "drop_from_previous", "Dropped X % below the previous price"
        TARGET_PRICE = "target_price", "At or below a target price"
        BACK_IN_STOCK = "back_in_stock", "Back in stock"
        LOWEST_IN_DAYS = "lowest_in_days", "Lowest price in N days"

    class Scope(models.TextChoices):
        ITEM = "item", "One watch item"
        WATCHLIST = "watchlist", "One watchlist"
        ALL = "all", "All my items"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_rules"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    scope = models.CharField(max_length=12, choices=Scope.choices)
    item = models.ForeignKey(
        "tracking.WatchItem",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_rules",
    )
    watchlist = models.ForeignKey(
        "tracking.Watchlist",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_rules",
    )
    percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    # For target rules; empty means each item's own target price.
    target_price = MoneyField(null=True, blank=True)
    days = models.PositiveSmallIntegerField(null=True, blank=True)
    cooldown_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Fire again while the condition stays true after this long; empty: only after "
        "it reset.",
    )
    enabled = models.BooleanField(default=True)
    muted_at = models.DateTimeField(null=True, blank=True)
    is_default = models.BooleanField(
        default=False, help_text="The 30 % below first price rule every user starts with."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(scope="item", item__isnull=False, watchlist__isnull=True)
                    | Q(scope="watchlist", item__isnull=True, watchlist__isnull=False)
                    | Q(scope="all", item__isnull=True, watchlist__isnull=True)
                ),
                name="alertrule_scope_target",
            ),
            models.UniqueConstraint(
                fields=["owner"], condition=Q(is_default=True), name="alertrule_one_default"
            ),
        ]
        indexes = [
            models.Index(
                fields=["owner"], condition=Q(scope="all", enabled=True), name="alertrule_all"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.scope}) of {self.owner_id}"


class Channel(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "E-mail"
        APPRISE = "apprise", "Apprise URL"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_channels"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True)
    # An e-mail address (empty: the account's address) or an Apprise URL. Apprise URLs hold
    # secrets (bot tokens): only their owner and admins see them.
    target = models.CharField(max_length=2000, blank=True)
    enabled = models.BooleanField(default=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # Channels created for users seen for the first time must not double up.
            models.UniqueConstraint(
                fields=["owner"],
                condition=Q(kind="email", target=""),
                name="channel_one_account_address",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.get_kind_display()} {self.pk}"


class RuleState(models.Model):
    """Where a rule stands for one offer: is its condition true now, and how often it fired."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="states")
    offer = models.ForeignKey("pricing.Offer", on_delete=models.CASCADE, related_name="+")
    active = models.BooleanField(default=False)
    fired_count = models.PositiveIntegerField(default=0)
    last_fired_at = models.DateTimeField(null=True, blank=True)
    last_change = models.BigIntegerField(null=True, blank=True, help_text="PriceChange id.")
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "offer"], name="rulestate_rule_offer"),
        ]
        indexes = [models.Index(fields=["offer"], name="rulestate_offer")]

    def __str__(self) -> str:
        return f"rule {self.rule_id} offer {self.offer_id}: {'on' if self.active else 'off'}"


class Notification(Deliverable):
    """One alert for one channel, and its delivery (claimed and settled by `core.delivery`)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        MUTED = "muted", "Muted"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_notifications"
    )
    rule = models.ForeignKey(
        AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    offer = models.ForeignKey("pricing.Offer", on_delete=models.CASCADE, related_name="+")
    # Without a database constraint: thousands of notifications are written per evaluation
    # batch, and the check per row is not worth it (Django still nulls it on delete).
    item = models.ForeignKey(
        "tracking.WatchItem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    # The pricing.PriceChange that fired the rule; a plain id (informational, never joined).
    change_id = models.BigIntegerField(null=True, blank=True)
    # (rule, offer, the price change that fired it, channel): inserted once, claimed once, sent
    # once.
    dedupe_key = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=24, choices=AlertRule.Kind.choices)
    fired_at = models.DateTimeField()
    old_price = MoneyField(null=True, blank=True)
    new_price = MoneyField(null=True, blank=True)
    reference_price = MoneyField(
        null=True, blank=True, help_text="First, previous, target or lowest price compared with."
    )
    currency = models.CharField(max_length=3, blank=True)
    percent = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True, help_text="Drop in % (positive)."
    )
    availability = models.CharField(max_length=16, blank=True)

    # The delivery statuses, and muted: not sent because the rule or channel was turned off.
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    digest = models.BooleanField(default=False, help_text="Waits for the daily digest mail.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="queued"), name="notification_due"),
            models.Index(
                fields=["lease_until"], condition=Q(status="sending"), name="notification_leased"
            ),
            models.Index(fields=["owner", "-created_at"], name="notification_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.dedupe_key} {self.status}"


class EvaluationCursor(models.Model):
    """How far evaluation has read the PriceChange outbox: every id <= `last_change_id` is done.

    Ids above it that are already evaluated sit in `EvaluatedChange` until the cursor passes them
    (on PostgreSQL a lower id can commit after a higher one, so the cursor only moves past changes
    old enough that no transaction writing them can still be open).
    """

    name = models.CharField(max_length=32, primary_key=True)
    last_change_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_change_id}"


class EvaluatedChange(models.Model):
    change_id = models.BigIntegerField(primary_key=True)

    def __str__(self) -> str:
        return str(self.change_id)
