"""The catalog: products (with their own price as a `pricing.Offer`) and feed imports."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Product(models.Model):
    # Unique through Meta.constraints: a unique field would also get a varchar_pattern_ops
    # index on PostgreSQL, for LIKE 'prefix%' lookups that nothing here makes.
    sku = models.CharField(max_length=100, help_text="The feed's g:id.")
    gtin = models.CharField(max_length=200, blank=True, help_text="Digits; several comma-joined.")
    mpn = models.CharField(max_length=70, blank=True)
    title = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    brand = models.CharField(max_length=70, blank=True)
    category = models.CharField(
        max_length=750, blank=True, help_text="Product type, else the Google product category."
    )
    google_product_category = models.CharField(max_length=750, blank=True)
    gender = models.CharField(max_length=10, blank=True)
    condition = models.CharField(max_length=12, blank=True)
    age_group = models.CharField(max_length=10, blank=True)
    color = models.CharField(max_length=100, blank=True)
    size = models.CharField(max_length=100, blank=True)
    link = models.URLField(max_length=2048, blank=True)
    image_link = models.URLField(max_length=2048, blank=True)
    quantity = models.IntegerField(null=True, blank=True)
    extra = models.JSONField(default=dict, blank=True, help_text="Every other feed attribute.")
    active = models.BooleanField(default=True)
    # The product's price, sale price, currency and availability are stored once, on its
    # offer, and written by the price door (pricing.services) alone; `catalog.prices` reads
    # them back in the feed's terms.
    offer = models.OneToOneField("pricing.Offer", on_delete=models.PROTECT, related_name="product")
    # Digest of everything the feed said, so re-importing an unchanged item is one comparison.
    content_hash = models.CharField(max_length=32, blank=True, editable=False)
    # Digest of the item's bytes as they stood in the file (and of the file's head, which
    # declares the namespaces), set by imports staged in parallel: an item with these exact
    # bytes is this product unchanged, without being parsed at all (see staging.RawStager).
    raw_hash = models.CharField(max_length=32, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        # Every index here is paid for by every write (a feed import writes 100,000 rows at
        # once), so each one serves a query: gtin and the other searched fields have none
        # (substring and full-text search cannot use a b-tree).
        indexes = [
            models.Index(fields=["brand"], name="product_brand"),
            models.Index(fields=["category"], name="product_category"),
            models.Index(fields=["title"], name="product_title"),
            # The storefront's usual filters over what the public sees (active products): a
            # count or a page then reads the index, not the wide rows. The full-text index
            # (PostgreSQL only) is created in migration 0003 on an expression, so no writer has
            # to fill a search column.
            # Brand filters, and every facet count in one index-only scan; the offer's id
            # joins the offer's availability (and price) without reading the product rows.
            models.Index(
                fields=[
                    "brand",
                    "category",
                    "gender",
                    "condition",
                    "color",
                    "size",
                    "offer",
                ],
                condition=Q(active=True),
                name="product_live_facets",
            ),
            # A re-import looks its items up by their bytes' digest; products without one
            # (created or edited through the API) stay out of the index.
            models.Index(
                fields=["raw_hash"], condition=Q(raw_hash__gt=""), name="product_raw_hash"
            ),
            models.Index(
                fields=["category"],
                condition=Q(active=True),
                name="product_live_category",
            ),
            models.Index(
                fields=["color", "size"],
                condition=Q(active=True),
                name="product_live_color_size",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["sku"], name="product_sku_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.title}"


class ImportJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    filename = models.CharField(max_length=255, blank=True, help_text="As uploaded.")
    path = models.CharField(max_length=1024, help_text="Where the upload is stored.")
    size = models.BigIntegerField(default=0)
    dry_run = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    total = models.PositiveIntegerField(null=True, blank=True, help_text="Items in the file.")
    processed = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)

    error = models.TextField(blank=True)
    error_line = models.PositiveIntegerField(null=True, blank=True)
    error_column = models.PositiveIntegerField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"], name="importjob_status")]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}


class ImportItem(models.Model):
    """One line of an import's report."""

    class Outcome(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        UNCHANGED = "unchanged", "Unchanged"
        REJECTED = "rejected", "Rejected"
        DUPLICATE = "duplicate", "Superseded by a later item with the same sku"

    # Indexed by the two indexes below, which start with it. No foreign-key constraint in
    # the database: a report row is written in its job's own transaction and deleted with it
    # by Django's cascade, while checking 100,000 rows of a report at commit costs
    # PostgreSQL a second (half an import re-run's time).
    job = models.ForeignKey(
        ImportJob,
        on_delete=models.CASCADE,
        related_name="items",
        db_index=False,
        db_constraint=False,
    )
    line = models.PositiveIntegerField()
    sku = models.CharField(max_length=100, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.TextField(blank=True)

    class Meta:
        # The report by outcome in line order (the rejected items of the mail, a filtered
        # page). A whole report in line order sorts the job's rows instead: one index less
        # to fill for every item of every import.
        indexes = [models.Index(fields=["job", "outcome", "line"], name="importitem_job")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.line} {self.outcome}"


class NoticeBatch(models.Model):
    """One mail to the admins about a batch of product edits made through the API."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    # When a send task was last queued: a batch pending long after this lost its task.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # Held while one worker talks to the SMTP server, so no other worker sends it meanwhile.
    locked_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    recipients = models.TextField(blank=True, help_text="Comma-separated, as sent.")
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "enqueued_at"], name="noticebatch_status")]

    def __str__(self) -> str:
        return f"notice batch {self.pk} ({self.status})"


class ProductNotice(models.Model):
    """A product created, changed or deleted through the API, waiting to be mailed to admins.

    Written in the edit's transaction; claimed into a NoticeBatch by a conditional update.
    """

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Changed"
        DELETED = "deleted", "Deleted"

    action = models.CharField(max_length=8, choices=Action.choices)
    # Kept as text too: the product may be gone by the time the mail is written.
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="notices"
    )
    sku = models.CharField(max_length=100)
    title = models.CharField(max_length=150)
    changes = models.JSONField(default=dict, blank=True, help_text="field: [old, new]")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_email = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    batch = models.ForeignKey(
        NoticeBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="notices"
    )

    class Meta:
        indexes = [models.Index(fields=["batch", "created_at"], name="productnotice_pending")]

    def __str__(self) -> str:
        return f"{self.action} {self.sku}"
