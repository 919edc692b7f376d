"""The account page's form for a contact."""

from __future__ import annotations

from django import forms

from contacts.models import ContactRole


class ContactForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    email = forms.CharField(label="Email", max_length=254)
    title = forms.CharField(label="Title", max_length=200, required=False)
    role = forms.ModelChoiceField(
        label="Role", queryset=ContactRole.objects.all(), required=False, empty_label="No role"
    )
    is_primary = forms.BooleanField(label="Primary contact", required=False)
