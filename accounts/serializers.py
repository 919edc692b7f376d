"""The account's JSON shape in the REST API, and the API's upsert of account rows.

``accounts_upsert`` is the one write path behind PUT, PATCH and the bulk endpoint:
one row or a thousand, the same validation, the same access rules, set-based reads
and writes (a fixed number of queries per request, not per row).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import serializers

from accounts.models import Account, ApiToken, User
from accounts.selectors import (
    accounts_visible_to_token,
    owners_assignable_by_token,
    token_reaches_every_account,
)
from accounts.services import Invalid, domain_clean
from config.api import json_without_nul
from config.api_fields import FIELD_MAPPING, TextField

BULK_MAX_ROWS = 1000


class OwnerField(TextField):
    """The owner CSM by username, looked up in ``context["owners"]``: the people this
    token may assign, fetched once per request. Someone outside the token's reach reads
    exactly like someone who does not exist."""

    default_error_messages = {
        "unknown": "No active user '{username}' that this token may assign accounts to.",
    }

    def to_internal_value(self, data: Any) -> User:
        username = super().to_internal_value(data)
        owner = self.context["owners"].get(username)
        if owner is None:
            self.fail("unknown", username=username)
        return owner

    def to_representation(self, value: User) -> str:
        return value.username


class AccountSerializer(serializers.ModelSerializer):
    serializer_field_mapping = FIELD_MAPPING
    external_id = serializers.CharField(
        max_length=100, help_text="The account's id in your CRM; unique; cannot contain '/'."
    )
    owner = OwnerField(
        required=False,
        allow_null=True,
        help_text="Username of the owner CSM. A token acting for a person may only name "
        "people in that person's scope; on create it defaults to that person.",
    )
    arr = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal(0),
        coerce_to_string=False,
        required=False,
        help_text="Annual recurring revenue.",
    )
    attributes = serializers.DictField(
        required=False,
        validators=[json_without_nul],
        help_text="Free-form JSON object; replaced whole when given.",
    )

    class Meta:
        model = Account
        fields = [
            "external_id",
            "name",
            "domain",
            "owner",
            "segment",
            "plan",
            "lifecycle_stage",
            "arr",
            "contract_start",
            "renewal_date",
            "churned_at",
            "attributes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate_external_id(self, value: str) -> str:
        if "/" in value:
            raise serializers.ValidationError("May not contain '/': it is part of the URL.")
        if value == "bulk":
            raise serializers.ValidationError("'bulk' is reserved: /api/v1/accounts/bulk/.")
        return value

    def validate_domain(self, value: str) -> str:
        try:
            return domain_clean(value)
        except Invalid as error:
            raise serializers.ValidationError(str(error)) from None

    def validate_owner(self, value: User | None) -> User | None:
        token: ApiToken = self.context["token"]
        if value is None and token.user_id is not None:
            raise serializers.ValidationError(
                "A token acting for a person may not leave an account without an owner."
            )
        return value


class AccountUpsertSerializer(AccountSerializer):
    """The body of ``PUT /api/v1/accounts/{external_id}/`` as the schema describes it: the
    URL names the account (a body may repeat it), and ``name`` is needed only to create
    one (its absence then is a 400 naming it)."""

    external_id = serializers.CharField(
        max_length=100, required=False, help_text="The URL's, if given; ids cannot be renamed."
    )

    class Meta(AccountSerializer.Meta):
        extra_kwargs = {"name": {"required": False}}


class AccountBulkRequestSerializer(serializers.Serializer):
    accounts = AccountSerializer(many=True, help_text=f"At most {BULK_MAX_ROWS:,} accounts.")


class RejectedRowSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the row in `accounts`, from 0.")
    external_id = serializers.CharField(allow_null=True)
    errors = serializers.DictField(help_text="Each bad field with its messages.")


class AccountBulkResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    rejected = RejectedRowSerializer(many=True)


@dataclass
class RejectedRow:
    index: int
    external_id: str | None
    errors: dict[str, Any]
    code: str = "invalid"  # or "not_found": the account exists out of the token's reach


@dataclass
class UpsertOutcome:
    created: list[Account] = field(default_factory=list)
    updated: list[Account] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)


def _text(value: Any) -> str | None:
    """A value as the serializer's CharField will read it (``42`` is ``"42"``), or None.
    Text with a NUL character is None too: no account or user can have it (PostgreSQL
    cannot even look it up), and the serializer reports it on the field."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).strip()
    return text if text and "\x00" not in text else None


def _plain(errors: Any) -> Any:
    if isinstance(errors, dict):
        return {str(key): _plain(value) for key, value in errors.items()}
    if isinstance(errors, list):
        return [_plain(item) for item in errors]
    return str(errors)


def accounts_upsert(
    *,
    token: ApiToken,
    rows: list[Any],
    create: bool = True,
    now: dt.datetime | None = None,
) -> UpsertOutcome:
    """Create or update the accounts in ``rows`` (dicts keyed by field name), as ``token``.

    Steps: read every account and owner the rows name in three queries; check each row
    (an object; its external id not repeated; an existing account within the token's
    reach, else "not_found"; fields valid); then write the good rows in one transaction,
    one INSERT for the new and one UPDATE for the changed. A row updates only the fields
    it gives. With ``create=False`` (PATCH) a missing account is "not_found" too.
    A concurrent request creating one of the same accounts makes the write fail on the
    unique external id; the whole batch is then planned again, once. Only a token that
    reaches every account creates (``token_reaches_every_account``); for any other, an
    unknown external id is "not_found", like an account outside its reach.
    """
    now = now or timezone.now()
    create = create and token_reaches_every_account(token=token)
    for attempt in range(2):
        outcome, changed_fields = _plan(token=token, rows=rows, create=create)
        try:
            with transaction.atomic():
                Account.objects.bulk_create(outcome.created)
                if outcome.updated:
                    for account in outcome.updated:
                        account.updated_at = now  # bulk_update does not apply auto_now
                    Account.objects.bulk_update(
                        outcome.updated, sorted(changed_fields | {"updated_at"})
                    )
        except IntegrityError:
            if attempt:
                raise
            continue
        return outcome
    raise AssertionError("unreachable")


def _plan(*, token: ApiToken, rows: list[Any], create: bool) -> tuple[UpsertOutcome, set[str]]:
    external_ids = {_text(row.get("external_id")) for row in rows if isinstance(row, dict)}
    external_ids.discard(None)
    existing = {
        account.external_id: account
        for account in Account.objects.filter(external_id__in=external_ids).select_related("owner")
    }
    if token.user_id is None:
        reachable = set(existing)
    else:
        reachable = set(
            accounts_visible_to_token(token=token)
            .filter(external_id__in=list(existing))
            .values_list("external_id", flat=True)
        )
    usernames = {_text(row.get("owner")) for row in rows if isinstance(row, dict)}
    usernames.discard(None)
    owners = {
        user.username: user
        for user in owners_assignable_by_token(token=token).filter(username__in=usernames)
    }
    context = {"token": token, "owners": owners}

    outcome = UpsertOutcome()
    changed_fields: set[str] = set()
    first_seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            outcome.rejected.append(
                RejectedRow(index, None, {"non_field_errors": ["Expected a JSON object."]})
            )
            continue
        external_id = _text(row.get("external_id"))
        if external_id and external_id in first_seen:
            outcome.rejected.append(
                RejectedRow(
                    index,
                    external_id,
                    {
                        "external_id": [
                            f"Repeats row {first_seen[external_id]}: "
                            "give each account once per request."
                        ]
                    },
                )
            )
            continue
        if external_id:
            first_seen[external_id] = index
        instance = existing.get(external_id) if external_id else None
        if (instance is not None and external_id not in reachable) or (
            instance is None and not create
        ):
            outcome.rejected.append(
                RejectedRow(
                    index,
                    external_id,
                    {
                        "external_id": [
                            "No account with this external id within this token's reach."
                        ]
                    },
                    code="not_found",
                )
            )
            continue
        serializer = AccountSerializer(
            instance, data=row, partial=instance is not None, context=context
        )
        if not serializer.is_valid():
            outcome.rejected.append(RejectedRow(index, external_id, _plain(serializer.errors)))
            continue
        data = serializer.validated_data
        if instance is None:
            account = Account(**data)
            if "owner" not in data and token.user_id is not None:
                account.owner = token.user
            outcome.created.append(account)
        else:
            for name, value in data.items():
                setattr(instance, name, value)
            changed_fields.update(name for name in data if name != "external_id")
            outcome.updated.append(instance)
    return outcome, changed_fields
