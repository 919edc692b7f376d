"""Contacts in admin: the roles' list, contacts saved through the one write path (the
form shows its errors beside the fields; "Mark as left" is an action), and touches
logged and deleted through theirs."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils import timezone

from contacts.models import Contact, ContactRole, Touch
from contacts.services import (
    CONTACT_FIELDS,
    contact_mark_left,
    contact_problems,
    contact_save,
    touch_delete,
    touch_log,
    touch_problems,
)


@admin.register(ContactRole)
class ContactRoleAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "position", "description"]
    list_editable = ["position"]
    prepopulated_fields = {"key": ("name",)}


class ContactAdminForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["account", *CONTACT_FIELDS]

    def clean(self):
        data = super().clean() or {}
        account = data.get("account")
        if account is None:
            return data
        fields = {name: data.get(name) for name in CONTACT_FIELDS}
        _, errors = contact_problems(
            account=account, fields=fields, contact=self.instance if self.instance.pk else None
        )
        for field, messages in errors.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
        return data

    def validate_unique(self) -> None:
        """The service checks the email per account (in any letter case) above."""


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    form = ContactAdminForm
    list_display = ["name", "email", "account", "role", "is_primary", "status", "left_at"]
    list_filter = ["role", "status", "is_primary"]
    search_fields = ["name", "email"]
    raw_id_fields = ["account"]
    readonly_fields = ["status", "left_at", "created_at", "updated_at"]
    show_full_result_count = False
    ordering = ["-id"]
    actions = ["mark_left"]

    def save_model(self, request, obj, form, change) -> None:
        saved = contact_save(
            account=form.cleaned_data["account"],
            fields={name: form.cleaned_data.get(name) for name in CONTACT_FIELDS},
            contact=Contact.objects.get(pk=obj.pk) if change else None,
            now=timezone.now(),
        )
        obj.pk = saved.pk

    @admin.action(description="Mark as left the customer (today)")
    def mark_left(self, request, queryset) -> None:
        now = timezone.now()
        for contact in queryset:
            contact_mark_left(contact=contact, on=timezone.localdate(now), now=now)
        self.message_user(request, f"Marked {queryset.count()} as left.")


class TouchAdminForm(forms.ModelForm):
    class Meta:
        model = Touch
        fields = ["account", "kind", "at", "contacts", "note"]

    def clean(self):
        data = super().clean() or {}
        account = data.get("account")
        if account is None:
            return data
        _, errors = touch_problems(
            account=account,
            kind=data.get("kind") or "",
            at=data.get("at"),
            note=(data.get("note") or "").strip(),
            now=timezone.now(),
            contact_ids=[contact.pk for contact in data.get("contacts") or []],
        )
        for field, messages in errors.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
        return data


@admin.register(Touch)
class TouchAdmin(admin.ModelAdmin):
    """Touches are logged and deleted through their write path (which keeps their signals
    and the account's last touch); a logged touch is not changed, only deleted."""

    form = TouchAdminForm
    list_display = ["at", "kind", "account", "by"]
    list_filter = ["kind"]
    search_fields = ["account__name", "account__external_id"]
    raw_id_fields = ["account", "contacts"]
    list_select_related = ["account", "by"]
    show_full_result_count = False
    ordering = ["-id"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        saved = touch_log(
            account=data["account"],
            kind=data["kind"],
            at=data["at"],
            note=data.get("note") or "",
            contact_ids=[contact.pk for contact in data.get("contacts") or []],
            by=request.user,
            now=timezone.now(),
        )
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change) -> None:
        """touch_log stored the contacts."""

    def delete_model(self, request, obj) -> None:
        touch_delete(touch=obj)

    def delete_queryset(self, request, queryset) -> None:
        for touch in queryset:
            touch_delete(touch=touch)
