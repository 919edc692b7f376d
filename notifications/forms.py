"""The notification settings form of the settings page."""

from __future__ import annotations

import zoneinfo

from django import forms

from notifications.models import Kind, NotificationSettings


class NotificationSettingsForm(forms.ModelForm):
    kinds = forms.MultipleChoiceField(
        label="Tell me of",
        choices=Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    time_zone = forms.ChoiceField(
        label="Time zone", choices=[(z, z) for z in sorted(zoneinfo.available_timezones())]
    )

    class Meta:
        model = NotificationSettings
        fields = ["kinds", "scope", "digest", "digest_hour", "time_zone"]
        labels = {"digest": "Send me a daily digest by email", "digest_hour": "At (hour, 0–23)"}


class NotificationSettingsAdminForm(NotificationSettingsForm):
    """The same choices in admin, for any person."""

    class Meta(NotificationSettingsForm.Meta):
        fields = ["user", *NotificationSettingsForm.Meta.fields]
