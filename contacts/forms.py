"""The account page's forms for a contact and for a touch."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from accounts.models import Account
from contacts.models import Contact, ContactRole, Touch


class ContactForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    email = forms.CharField(label="Email", max_length=254)
    title = forms.CharField(label="Title", max_length=200, required=False)
    role = forms.ModelChoiceField(
        label="Role", queryset=ContactRole.objects.all(), required=False, empty_label="No role"
    )
    is_primary = forms.BooleanField(label="Primary contact", required=False)


class ContactChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.name} ({obj.role.name})" if obj.role else obj.name


class TouchForm(forms.Form):
    """A touch on the account page: the contacts offered are the account's active ones."""

    kind = forms.ChoiceField(label="Kind", choices=Touch.Kind.choices, initial=Touch.Kind.CALL)
    at = forms.DateTimeField(
        label="When",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    contacts = ContactChoices(
        label="With",
        queryset=Contact.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    note = forms.CharField(
        label="Note", required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, account: Account, now: dt.datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["at"].initial = timezone.localtime(now).replace(second=0, microsecond=0)
        field = self.fields["contacts"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = (
            Contact.objects.select_related("role")
            .filter(account=account, status=Contact.Status.ACTIVE)
            .order_by("-is_primary", "name")
        )
