"""Webhook endpoints, saved and deleted through ``playbooks.services`` (their secret is
rotated and a paused one resumed there too), and deliveries: the record of what was sent,
read-only, with "retry now" for the failed ones."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from accounts.admin_filters import input_filter
from accounts.pagination import BookPaginator
from playbooks.admin.common import ReadOnlyAdmin, ThroughServices
from playbooks.models import Delivery, WebhookEndpoint
from playbooks.services import (
    delivery_retry,
    webhook_endpoint_delete,
    webhook_endpoint_resume,
    webhook_endpoint_save,
    webhook_secret_rotate,
)


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=WebhookEndpoint.Event.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Events sent to this endpoint (playbook steps may send to it too).",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "events", "is_active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ThroughServices):
    form = WebhookEndpointForm
    list_display = ["name", "url", "event_list", "is_active", "state"]
    list_filter = ["is_active", ("paused_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "url"]
    readonly_fields = [
        "secret",
        "previous_secret_until",
        "failures",
        "failing_since",
        "paused_at",
        "paused_reason",
        "created_at",
    ]
    fields = ["name", "url", "events", "is_active", *readonly_fields]
    actions = ["resume", "rotate_secret"]

    @admin.display(description="Events")
    def event_list(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.events or []) or "—"

    @admin.display(description="State")
    def state(self, endpoint: WebhookEndpoint) -> str:
        if endpoint.is_paused:
            return f"Paused since {endpoint.paused_at:%Y-%m-%d %H:%M}"
        if endpoint.failures:
            return f"{endpoint.failures} failed attempt(s) in a row"
        return "OK"

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in WebhookEndpointForm.Meta.fields}
        saved = webhook_endpoint_save(endpoint=obj, fields=fields)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        webhook_endpoint_delete(endpoint=obj)

    @admin.action(description="Resume paused endpoints (what waited is sent at once)")
    def resume(self, request, queryset):
        now = timezone.now()
        resumed = [e for e in queryset if e.is_paused]
        waiting = sum(webhook_endpoint_resume(endpoint=e, now=now) for e in resumed)
        self.message_user(
            request, f"Resumed {len(resumed)} endpoint(s); {waiting} delivery(ies) sent again."
        )

    @admin.action(description="Rotate the secret (the old one keeps signing for 24 hours)")
    def rotate_secret(self, request, queryset):
        now = timezone.now()
        for endpoint in queryset:
            webhook_secret_rotate(endpoint=endpoint, now=now)
        self.message_user(
            request,
            f"New secrets for {queryset.count()} endpoint(s). Deliveries carry a signature "
            "with the old secret too for 24 hours: give receivers the new one meanwhile.",
        )


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "channel",
        "event",
        "target_short",
        "account",
        "status",
        "attempts",
        "response_status",
        "next_attempt_at",
    ]
    list_filter = [
        "status",
        "channel",
        input_filter(title="event (exact)", parameter_name="event", lookup="event"),
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["target", "idempotency_key", "account__name", "account__external_id"]
    list_select_related = ["account"]
    # Large tables: count exactly only up to a limit, and only once.
    show_full_result_count = False
    paginator = BookPaginator
    ordering = ["-id"]  # newest first, along the primary key
    actions = ["retry_now"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.display(description="Target")
    def target_short(self, delivery: Delivery) -> str:
        return delivery.target if len(delivery.target) <= 60 else delivery.target[:57] + "…"

    @admin.action(description="Retry now (failed deliveries only)")
    def retry_now(self, request, queryset):
        now = timezone.now()
        failed = list(queryset.filter(status=Delivery.Status.FAILED))
        for delivery in failed:
            delivery_retry(delivery=delivery, now=now)
        skipped = queryset.count() - len(failed)
        message = f"{len(failed)} delivery(ies) sent for another attempt."
        if skipped:
            message += f" {skipped} not failed, left alone."
        self.message_user(request, message, messages.SUCCESS)
