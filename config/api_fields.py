"""Serializer fields the API shares where DRF's own are too lenient."""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import serializers


class NumberField(serializers.FloatField):
    """DRF's FloatField takes ``true`` and ``false`` for 1 and 0 (``float(True)``); a
    number is asked for, so a boolean is refused like any other non-number."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


# For ModelSerializer.serializer_field_mapping: model FloatFields as NumberFields.
FIELD_MAPPING = {
    **serializers.ModelSerializer.serializer_field_mapping,
    models.FloatField: NumberField,
}


class TextField(serializers.CharField):
    """DRF's CharField takes numbers for text (``42`` becomes ``"42"``); text is asked
    for, so anything but a string is refused."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# For ModelSerializer.serializer_field_mapping: model numbers and text held to their type.
FIELD_MAPPING = {
    **serializers.ModelSerializer.serializer_field_mapping,
    models.FloatField: NumberField,
    models.CharField: TextField,
    models.TextField: TextField,
}
