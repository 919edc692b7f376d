"""Notifications in admin: read-only rows (people are told by the services, not by
hand), and each person's settings, saved through the one write path."""

from __future__ import annotations

from django.contrib import admin

from notifications.forms import NotificationSettingsAdminForm
from notifications.models import Notification, NotificationSettings
from notifications.services import SETTINGS_FIELDS, notification_settings_save


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "kind", "created_at", "read_at"]
    list_filter = ["kind"]
    raw_id_fields = ["user", "account"]
    readonly_fields = ["user", "kind", "account", "title", "url", "key", "created_at", "read_at"]
    show_full_result_count = False
    ordering = ["-id"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    form = NotificationSettingsAdminForm
    list_display = ["user", "scope", "digest", "digest_hour", "time_zone"]
    list_filter = ["digest", "scope"]
    raw_id_fields = ["user"]

    def save_model(self, request, obj, form, change) -> None:
        saved = notification_settings_save(
            user=obj.user, fields={name: getattr(obj, name) for name in SETTINGS_FIELDS}
        )
        obj.pk = saved.pk
