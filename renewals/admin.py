"""Renewals in admin: the reasons' list, and outcomes recorded through the one write
path (the form shows its refusals beside the fields). A recorded outcome is read only:
it has been applied to the account."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils import timezone

from renewals.models import RenewalOutcome, RenewalReason
from renewals.services import outcome_checked, outcome_record

OUTCOME_FIELDS = [
    "kind",
    "renewal_date",
    "arr_after",
    "reasons",
    "note",
    "next_renewal",
    "churned_at",
]


@admin.register(RenewalReason)
class RenewalReasonAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "applies_to", "active", "order"]
    list_editable = ["active", "order"]
    list_filter = ["applies_to", "active"]
    prepopulated_fields = {"code": ("name",)}


class OutcomeAdminForm(forms.ModelForm):
    class Meta:
        model = RenewalOutcome
        fields = ["account", *OUTCOME_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "renewal_date" in self.fields:  # a recorded outcome's page shows it read only
            self.fields["renewal_date"].required = False
            self.fields["renewal_date"].help_text = "Empty: the account's renewal date."
        if "arr_after" in self.fields:
            self.fields["arr_after"].required = False
            self.fields["arr_after"].help_text = "Empty: kept for a renewal, 0 for a churn."

    def clean(self):
        data = super().clean() or {}
        account = data.get("account")
        if account is None:
            return data
        _, errors = outcome_checked(
            account=account,
            kind=data.get("kind") or "",
            renewal_date=data.get("renewal_date"),
            arr_after=data.get("arr_after"),
            reasons=list(data.get("reasons") or []),
            note=data.get("note") or "",
            next_renewal=data.get("next_renewal"),
            churned_at=data.get("churned_at"),
        )
        for field, messages in errors.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
        return data

    def _post_clean(self) -> None:
        """The service checks the outcome (and the database its constraints) on save."""


@admin.register(RenewalOutcome)
class RenewalOutcomeAdmin(admin.ModelAdmin):
    form = OutcomeAdminForm
    list_display = ["account", "renewal_date", "kind", "arr_before", "arr_after", "recorded_by"]
    list_filter = ["kind", "reasons"]
    search_fields = ["account__name", "account__external_id"]
    raw_id_fields = ["account"]
    show_full_result_count = False
    list_select_related = ["account", "recorded_by"]
    ordering = ["-renewal_date", "-id"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        saved = outcome_record(
            account=data["account"],
            kind=data["kind"],
            renewal_date=data.get("renewal_date"),
            arr_after=data.get("arr_after"),
            reasons=list(data.get("reasons") or []),
            note=data.get("note") or "",
            next_renewal=data.get("next_renewal"),
            churned_at=data.get("churned_at"),
            recorded_by=request.user,
            now=timezone.now(),
        )
        # The form's instance was never filled (the service checked and saved): it takes
        # the stored outcome's values, for admin's message and its history.
        for stored in RenewalOutcome._meta.concrete_fields:
            setattr(obj, stored.attname, getattr(saved, stored.attname))

    def save_related(self, request, form, formsets, change) -> None:
        """The reasons were set by ``outcome_record``."""
