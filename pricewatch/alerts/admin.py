from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from pricewatch.alerts import services
from pricewatch.alerts.models import AlertPreferences, AlertRule, Channel, Notification, RuleState


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "kind", "scope", "percent", "target_price", "days", "enabled")
    list_filter = ("kind", "scope", "enabled", "is_default")
    search_fields = ("owner__email",)
    raw_id_fields = ("owner", "item", "watchlist")
    readonly_fields = ("muted_at", "created_at", "updated_at")


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "kind", "name", "enabled", "last_tested_at")
    list_filter = ("kind", "enabled")
    search_fields = ("owner__email", "name")
    raw_id_fields = ("owner",)
    readonly_fields = ("last_tested_at", "last_test_error", "created_at", "updated_at")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "kind", "status", "attempts", "due_at", "sent_at")
    list_filter = ("status", "kind", "digest")
    search_fields = ("owner__email", "dedupe_key")
    raw_id_fields = ("owner", "rule", "channel", "offer", "item")
    readonly_fields = ("dedupe_key", "claim", "created_at", "updated_at")
    actions = ["resend"]

    @admin.action(description="Resend the selected failed or muted notifications")
    def resend(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        count = 0
        for notification in queryset.filter(
            status__in=[Notification.Status.FAILED, Notification.Status.MUTED]
        ):
            services.resend_notification(notification=notification)
            count += 1
        self.message_user(request, f"{count} notification(s) queued again.")


@admin.register(AlertPreferences)
class AlertPreferencesAdmin(admin.ModelAdmin):
    list_display = ("user", "quiet_start", "quiet_end", "digest", "digest_hour")
    raw_id_fields = ("user",)


@admin.register(RuleState)
class RuleStateAdmin(admin.ModelAdmin):
    list_display = ("rule", "offer", "active", "fired_count", "last_fired_at")
    raw_id_fields = ("rule", "offer")
