"""The JSON shapes of health scores (read only)."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import RiskLevel
from scoring.models import ScoringModel


class ModelRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    name = serializers.CharField()
    version = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ScoringModel.Kind.choices)


class BandRefSerializer(serializers.Serializer):
    name = serializers.CharField()
    color = serializers.CharField(help_text="#rrggbb")
    level = serializers.ChoiceField(
        choices=RiskLevel.choices,
        help_text="The risk level the band stands for, the same vocabulary across models.",
    )
    is_at_risk = serializers.BooleanField(help_text="Whether the level is at_risk or critical.")


class ScoreComponentSerializer(serializers.Serializer):
    metric = serializers.CharField(help_text="The metric's key.")
    # A declared field, taken off the class by DRF's metaclass: it does not shadow the
    # Field/Serializer attribute of the same name, whatever the stubs think.
    label = serializers.CharField()  # type: ignore[assignment]
    unit = serializers.CharField(allow_blank=True)
    rule = serializers.CharField(help_text="How the value became a score, in words.")
    weight = serializers.FloatField(help_text="Per cent of the score (weighted models).")
    raw_value = serializers.FloatField(
        allow_null=True, help_text="The metric's rolled-up value; null when it had no data."
    )
    score = serializers.FloatField(
        allow_null=True,
        help_text="0–100 (weighted models) or impact points (points models); null when "
        "the component was left out for lack of data.",
    )
    contribution = serializers.FloatField(
        allow_null=True,
        help_text="Points this component adds to the score (weighted: score × weight, "
        "re-weighted over the components that had data).",
    )


class PendingSerializer(serializers.Serializer):
    band = BandRefSerializer(help_text="The band the account is on its way into.")
    scorings = serializers.IntegerField(help_text="Scorings in a row past the current band.")
    scorings_needed = serializers.IntegerField(help_text="The model's dwell in scorings.")
    since = serializers.DateTimeField(help_text="When the streak began.")


class ScoreSerializer(serializers.Serializer):
    """An account's latest health score with its breakdown."""

    account = serializers.CharField(help_text="The account's external id.")
    model = ModelRefSerializer(help_text="The scoring model version that computed it.")
    score = serializers.FloatField(allow_null=True, help_text="Null when no component had data.")
    band = BandRefSerializer(
        allow_null=True,
        help_text="The confirmed band: what lists, dashboards and playbooks go by (flap "
        "control lets a band change count once the score is past the band's edge by the "
        "model's exit margin for its dwell).",
    )
    raw_band = BandRefSerializer(allow_null=True, help_text="The band the score itself falls in.")
    pending = PendingSerializer(
        allow_null=True, help_text="A band change not confirmed yet; null when none."
    )
    rebaseline = serializers.BooleanField(
        help_text="The first score under another model version: its band is a new baseline."
    )
    completeness = serializers.FloatField(help_text="Share (0–1) of the weight that had data.")
    computed_at = serializers.DateTimeField()
    trend_7d = serializers.FloatField(
        allow_null=True, help_text="Change against the score 7 days earlier; null without one."
    )
    trend_30d = serializers.FloatField(allow_null=True)
    trend_90d = serializers.FloatField(allow_null=True)
    components = ScoreComponentSerializer(many=True)


class ScoreHistorySerializer(serializers.Serializer):
    """One computation of an account's score."""

    computed_at = serializers.DateTimeField()
    score = serializers.FloatField(allow_null=True)
    band = BandRefSerializer(allow_null=True, help_text="The band the score falls in (raw).")
    confirmed_band = BandRefSerializer(
        allow_null=True, help_text="The account's band after flap control."
    )
    rebaseline = serializers.BooleanField()
    completeness = serializers.FloatField()
    model = ModelRefSerializer()
