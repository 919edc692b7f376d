"""The shape of renewals over the API."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from accounts.models import Account
from renewals.models import RenewalOutcome, RenewalReason
from renewals.selectors import GROUPINGS


def _money(help_text: str, **kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=16, decimal_places=2, coerce_to_string=False, help_text=help_text, **kwargs
    )


class RenewalReasonSerializer(serializers.ModelSerializer):
    class Meta:
        model = RenewalReason
        fields = ["code", "name", "applies_to", "active", "order"]
        read_only_fields = fields


class OutcomeSerializer(serializers.ModelSerializer):
    account: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="external_id", read_only=True
    )
    reasons: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="code", many=True, read_only=True, help_text="Reason codes."
    )
    recorded_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    arr_before = _money("The account's ARR before the renewal.")
    arr_after = _money("The new ARR (0 for a churn).")

    class Meta:
        model = RenewalOutcome
        fields = ["id", "account", "renewal_date", "kind", "arr_before", "arr_after", "reasons",
                  "note", "next_renewal", "churned_at", "recorded_by", "recorded_at"]  # fmt: skip
        read_only_fields = fields


class OutcomeWriteSerializer(serializers.Serializer):
    """An outcome to record; the write path checks the ARR against the kind, the reasons
    and that the renewal has no outcome yet."""

    kind = serializers.ChoiceField(choices=RenewalOutcome.Kind.choices)
    renewal_date = serializers.DateField(
        required=False, allow_null=True, help_text="Default: the account's renewal date."
    )
    arr_after = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal(0),
        required=False,
        allow_null=True,
        help_text="The new ARR: required for expanded (higher) and downgraded (lower, above "
        "0); the ARR as it is for renewed, 0 for churned, when left out.",
    )
    reasons = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        default=list,
        help_text="Up to three active reason codes (GET /api/v1/renewal-reasons/).",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")
    next_renewal = serializers.DateField(
        required=False, allow_null=True, help_text="Default: a term of 12 months on."
    )
    churned_at = serializers.DateField(
        required=False, allow_null=True, help_text="A churn only; default the renewal date."
    )


class RenewalSerializer(serializers.ModelSerializer):
    """An account with a renewal coming up (or passed, with no outcome yet)."""

    owner: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    arr = _money("Annual recurring revenue.")
    level = serializers.SerializerMethodField(help_text="Risk level of the confirmed band.")
    band = serializers.SerializerMethodField(help_text="Name of the confirmed band.")
    passed = serializers.SerializerMethodField(help_text="The renewal date has passed.")

    class Meta:
        model = Account
        fields = ["external_id", "name", "owner", "segment", "arr", "renewal_date", "level",
                  "band", "passed"]  # fmt: skip
        read_only_fields = fields

    def _health(self, account: Account):
        return getattr(account, "health", None)

    def get_level(self, account: Account) -> str | None:
        health = self._health(account)
        return (health.level or None) if health is not None else None

    def get_band(self, account: Account) -> str | None:
        health = self._health(account)
        band = health.band if health is not None else None
        return band.name if band is not None else None

    def get_passed(self, account: Account) -> bool:
        today = self.context["today"]
        return account.renewal_date is not None and account.renewal_date < today


class RetentionQuerySerializer(serializers.Serializer):
    start = serializers.DateField(help_text="First day of the period.")
    end = serializers.DateField(help_text="The day after the period (exclusive).")
    by = serializers.ChoiceField(choices=GROUPINGS, default="team")

    def validate(self, attrs):
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": ["The period ends after it starts."]})
        return attrs


class RetentionRowSerializer(serializers.Serializer):
    key = serializers.CharField(allow_null=True, help_text="Team or owner id, or segment.")
    name = serializers.CharField(source="label", help_text="The team's, owner's or segment's.")
    accounts = serializers.IntegerField(help_text="Accounts in the cohort.")
    start_arr = _money("ARR of the cohort at the start.")
    churned_arr = _money("Start ARR of the cohort's accounts that churned.")
    downgraded_arr = _money("ARR lost by downgrades.")
    expanded_arr = _money("ARR gained by expansions.")
    end_arr = _money("The cohort's ARR at the end.")
    grr = serializers.DecimalField(
        max_digits=6, decimal_places=4, coerce_to_string=False, allow_null=True,
        help_text="Gross revenue retention as a fraction (0.9125 = 91.25 %), at most 1.",
    )  # fmt: skip
    nrr = serializers.DecimalField(
        max_digits=8, decimal_places=4, coerce_to_string=False, allow_null=True,
        help_text="Net revenue retention as a fraction.",
    )  # fmt: skip


class LostByReasonSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Reason code; empty for outcomes without a reason.")
    name = serializers.CharField()
    arr = _money("Churned and downgraded ARR attributed to the reason.")


class RetentionSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    by = serializers.CharField()
    total = RetentionRowSerializer()
    rows = RetentionRowSerializer(many=True)
    lost_by_reason = LostByReasonSerializer(many=True)

    def to_representation(self, instance):
        data = super().to_representation(
            {
                "start": instance.start,
                "end": instance.end,
                "by": instance.by,
                "total": instance.total,
                "rows": instance.rows,
                "lost_by_reason": [
                    {"code": code, "name": name, "arr": arr}
                    for code, name, arr in instance.lost_by_reason
                ],
            }
        )
        return data
