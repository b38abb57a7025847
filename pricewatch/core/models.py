"""Rows every app may build on: the state of one delivery to the outside world."""

from __future__ import annotations

from django.db import models


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Deliverable(models.Model):
    """Something sent at most once: claimed by a conditional update, every attempt counted.

    `core.delivery` is the one place that moves these fields.
    """

    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    due_at = models.DateTimeField(
        help_text="Not sent before this (a later time, or the next retry)."
    )
    lease_until = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Delivery(Deliverable):
    """One message that has no row of its own to track it (an admin notice, an import mail).

    `key` names the message ("import-mail:42"): inserted once, so it is claimed once.
    """

    key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.key} {self.status}"
