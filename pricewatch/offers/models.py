"""A catalog product's registration with the offers service, and the service's offers of it.

The registration row is the outbox and the schedule at once: `next_attempt_at` says when to
(re)try registering, `next_poll_at` when to poll the offers of a registered product.
"""

from __future__ import annotations

import uuid

from django.db import models


class Registration(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        REGISTERED = "registered", "Registered"
        FAILED = "failed", "Failed"

    product = models.OneToOneField(
        "catalog.Product", on_delete=models.CASCADE, related_name="offers_registration"
    )
    # The product's stable id at the service.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    last_error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    registered_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    polled_at = models.DateTimeField(null=True, blank=True)
    poll_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="offerreg_attempt"),
            models.Index(fields=["status", "next_poll_at"], name="offerreg_poll"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} {self.status}"


class ServiceOffer(models.Model):
    """One offer the service made for a product; its prices live on `offer` (the price door)."""

    registration = models.ForeignKey(
        Registration, on_delete=models.CASCADE, related_name="service_offers"
    )
    offer = models.OneToOneField(
        "pricing.Offer", on_delete=models.CASCADE, related_name="service_offer"
    )
    external_id = models.UUIDField(unique=True)
    items_in_stock = models.IntegerField(default=0)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    gone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["registration", "gone_at"], name="serviceoffer_live")]

    def __str__(self) -> str:
        return str(self.external_id)
