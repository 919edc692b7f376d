"""The shape of contacts and touches over the API (/api/v1/accounts/{external_id}/contacts/
and …/touches/)."""

from __future__ import annotations

from rest_framework import serializers

from contacts.models import Contact, Touch


class ContactSerializer(serializers.ModelSerializer):
    role: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="key",
        read_only=True,
        allow_null=True,
        help_text="The contact's role by key (champion, decision_maker, user, billing, …).",
    )

    class Meta:
        model = Contact
        fields = ["id", "name", "email", "title", "role", "is_primary", "status", "left_at",
                  "created_at", "updated_at"]  # fmt: skip
        read_only_fields = fields


class ContactWriteSerializer(serializers.Serializer):
    """One contact to create or update, matched by email within the account."""

    name = serializers.CharField(max_length=200, help_text="Required.")
    email = serializers.CharField(max_length=254, help_text="Unique within the account (any case).")
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    role = serializers.CharField(
        max_length=40, required=False, allow_null=True, default=None,
        help_text="A role's key, or null for none.",
    )  # fmt: skip
    is_primary = serializers.BooleanField(required=False, default=False)


class ContactsUpsertSerializer(serializers.Serializer):
    contacts = ContactWriteSerializer(many=True, help_text="The contacts, 1–1,000.")

    def validate_contacts(self, value):
        if not 1 <= len(value) <= 1000:
            raise serializers.ValidationError(f"Give 1 to 1,000 contacts (this has {len(value)}).")
        return value


class ContactsUpsertResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    results = ContactSerializer(many=True)


class TouchSerializer(serializers.ModelSerializer):
    contacts: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="email", many=True, read_only=True, help_text="The contacts, by email."
    )
    by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Who logged it."
    )

    class Meta:
        model = Touch
        fields = ["id", "kind", "at", "contacts", "note", "by", "created_at"]
        read_only_fields = fields


class TouchWriteSerializer(serializers.Serializer):
    """One touch to log on the account."""

    kind = serializers.ChoiceField(choices=Touch.Kind.choices)
    at = serializers.DateTimeField(
        required=False, default=None, allow_null=True,
        help_text="When it happened (ISO 8601 with its offset); now when left out. "
        "Not in the future.",
    )  # fmt: skip
    contacts = serializers.ListField(
        child=serializers.CharField(max_length=254), required=False, default=list,
        help_text="The account's contacts who took part, by email.",
    )  # fmt: skip
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)


class TouchesLogSerializer(serializers.Serializer):
    touches = TouchWriteSerializer(many=True, help_text="The touches, 1–1,000.")

    def validate_touches(self, value):
        if not 1 <= len(value) <= 1000:
            raise serializers.ValidationError(f"Give 1 to 1,000 touches (this has {len(value)}).")
        return value


class TouchesLoggedSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    results = TouchSerializer(many=True)
