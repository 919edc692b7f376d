"""The JSON shape of a signal batch, for the OpenAPI schema only: batches are validated
by ``scoring.ingest`` row by row, without a serializer per row (a batch of 5,000 is
validated in milliseconds)."""

from __future__ import annotations

from rest_framework import serializers

SIGNALS_MAX_ROWS = 5000


class SignalSerializer(serializers.Serializer):
    account = serializers.CharField(
        max_length=100, help_text="The account's external id (as in `/api/v1/accounts/`)."
    )
    metric = serializers.CharField(max_length=64, help_text="The metric's key, e.g. `logins`.")
    value = serializers.FloatField(help_text="A finite number.")
    timestamp = serializers.DateTimeField(
        help_text="ISO 8601; without an offset it is taken as UTC; a date alone is midnight "
        "UTC. At most one day in the future."
    )
    id = serializers.CharField(
        max_length=100,
        required=False,
        help_text="Your own id for this observation: a signal whose id was stored before "
        "is counted as a duplicate and not stored again.",
    )
    # A declared field, taken off the class by DRF's metaclass: it does not shadow the
    # Field/Serializer attribute of the same name, whatever the stubs think.
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=50,
        required=False,
        allow_blank=True,
        help_text="Where it comes from, e.g. `product`, `zendesk`, `survey`.",
    )


class SignalBatchSerializer(serializers.Serializer):
    signals = serializers.ListField(
        child=SignalSerializer(),
        max_length=SIGNALS_MAX_ROWS,
        help_text=f"At most {SIGNALS_MAX_ROWS:,} signals.",
    )


class SignalRejectedSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the row in `signals`, from 0.")
    # A declared field, taken off the class by DRF's metaclass: it does not shadow the
    # Field/Serializer attribute of the same name, whatever the stubs think.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Each bad field with its messages, e.g. "
        '`{"account": ["Unknown account \'ext-9\'."]}`.',
    )


class SignalBatchResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Signals stored by this request.")
    duplicates = serializers.IntegerField(
        help_text="Rows whose `id` was stored before (or repeated in this request): not "
        "stored again."
    )
    rejected = SignalRejectedSerializer(many=True, help_text="The bad rows; nothing stored.")
