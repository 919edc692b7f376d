"""The account's JSON shape in the REST API, and the API's upsert of account rows.

``accounts_upsert`` is the one write path behind PUT, PATCH and the bulk endpoint:
one row or a thousand, the rows are validated by the same rules as every other door
(``accounts.services.accounts_validate``) and written by the same set-based upsert
(``accounts_bulk_upsert``); what it adds are the token's rules — which accounts it
reaches, whom it may make an owner. The serializers describe the shape, for the
responses and the OpenAPI schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from accounts.models import Account, ApiToken, SavedView, Team, User
from accounts.selectors import (
    accounts_visible_to_token,
    owners_assignable_by_token,
    token_reaches_every_account,
)
from accounts.services import (
    ACCOUNT_FIELDS,
    HIERARCHY_MAX_DEPTH,
    OWNER_UNKNOWN,
    accounts_bulk_upsert,
    accounts_validate,
)
from config.api_fields import FIELD_MAPPING
from scoring.serializers.configuration import SlugLookupField

BULK_MAX_ROWS = 1000
# For a token limited to a person's book, someone out of its reach reads exactly like
# someone who does not exist (or is inactive).
OWNER_OUT_OF_REACH = "No active user '{username}' that this token may assign accounts to."
CHOICE_HELP = "One of the values, or its label, in any letter case ({example})."
EXTRA_KWARGS: dict[str, dict[str, Any]] = {
    "domain": {
        "help_text": "A host name; a website is cut to it, lower-cased and without `www.` "
        "(`https://www.Acme.example/x` is stored as `acme.example`)."
    },
    "segment": {"help_text": CHOICE_HELP.format(example="`Mid-market` is `mid_market`")},
    "lifecycle_stage": {"help_text": CHOICE_HELP.format(example="`Renewing` is `renewing`")},
}


class OwnerField(serializers.CharField):
    """The owner CSM by username."""

    # The field reads a User and writes its username: wider than CharField's str.
    def to_representation(self, value: User) -> str:  # type: ignore[override]
        return value.username


class ParentField(serializers.CharField):
    """The parent company by external id."""

    def to_representation(self, value: Account) -> str:  # type: ignore[override]
        return value.external_id


class AccountSerializer(serializers.ModelSerializer):
    serializer_field_mapping = FIELD_MAPPING
    external_id = serializers.CharField(
        max_length=100, help_text="The account's id in your CRM; unique; cannot contain '/'."
    )
    owner = OwnerField(
        required=False,
        allow_null=True,
        help_text="Username of the owner CSM, an active user. A token acting for a person "
        "may only name people in that person's scope; on create it defaults to that person.",
    )
    # A declared field, taken off the class by DRF's metaclass: it does not shadow the
    # serializer's own ``parent`` (the serializer it is nested in).
    parent = ParentField(  # type: ignore[assignment]
        required=False,
        allow_null=True,
        help_text="External id of the parent company: an account that exists or is given in "
        "the same request (`bulk`). Null: a top-level account. Never the account itself nor "
        "one of its subsidiaries, and trees of at most "
        f"{HIERARCHY_MAX_DEPTH} levels.",
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
        required=False, help_text="Free-form JSON object; replaced whole when given."
    )

    class Meta:
        model = Account
        fields = [*ACCOUNT_FIELDS, "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = EXTRA_KWARGS


class AccountUpsertSerializer(AccountSerializer):
    """The body of ``PUT /api/v1/accounts/{external_id}/`` as the schema describes it: the
    URL names the account (a body may repeat it), and ``name`` is needed only to create
    one (its absence then is a 400 naming it)."""

    external_id = serializers.CharField(
        max_length=100, required=False, help_text="The URL's, if given; ids cannot be renamed."
    )

    class Meta(AccountSerializer.Meta):
        extra_kwargs = {**EXTRA_KWARGS, "name": {"required": False}}


class AccountBulkRequestSerializer(serializers.Serializer):
    accounts = AccountSerializer(many=True, help_text=f"At most {BULK_MAX_ROWS:,} accounts.")


class RejectedRowSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the row in `accounts`, from 0.")
    external_id = serializers.CharField(allow_null=True)
    # A declared field, taken off the class by DRF's metaclass: it does not shadow the
    # Serializer attribute of the same name, whatever the stubs think.
    errors = serializers.DictField(  # type: ignore[assignment]
        help_text="Each bad field with its messages."
    )


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
    """What ``accounts_upsert`` did: the external ids it created and updated, and the
    rows it refused."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)


NOT_FOUND = {"external_id": ["No account with this external id within this token's reach."]}


def _text(value: Any) -> str | None:
    """An external id as the validation will read it (``42`` is ``"42"``), or None. Text
    with a NUL character is None too: no account can have it (PostgreSQL cannot even
    look it up), and the validation reports it on the field."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text if text and "\x00" not in text else None


def accounts_upsert(*, token: ApiToken, rows: list[Any], create: bool = True) -> UpsertOutcome:
    """Create or update the accounts in ``rows`` (dicts keyed by field name), as ``token``.

    Steps: read which of the named accounts exist and which the token reaches (one or
    two queries); check each row (an object; its external id not repeated; an existing
    account within the token's reach, else "not_found"); validate the rows with
    ``accounts_validate`` — all fields for a new account, the fields given for an
    existing one, owners among those the token may assign, and the token's own rule
    that a person's token leaves no account without an owner; then upsert the good rows
    in one ``accounts_bulk_upsert``. Keys that are not account fields (``created_at``
    from a GET, say) are ignored. With ``create=False`` (PATCH) a missing account is
    "not_found" too. Only a token that reaches every account creates
    (``token_reaches_every_account``); for any other, an unknown external id is
    "not_found", like an account outside its reach — and an account deleted meanwhile
    is not brought back.
    """
    everywhere = token_reaches_every_account(token=token)
    create = create and everywhere
    outcome = UpsertOutcome()
    external_ids = {_text(row.get("external_id")) for row in rows if isinstance(row, dict)}
    external_ids.discard(None)
    existing = set(
        Account.objects.filter(external_id__in=external_ids).values_list("external_id", flat=True)
    )
    if token.user_id is None:
        reachable = existing
    else:
        reachable = set(
            accounts_visible_to_token(token=token)
            .filter(external_id__in=list(existing))
            .values_list("external_id", flat=True)
        )

    candidates: list[tuple[int, str | None, dict[str, Any], bool]] = []
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
        exists = external_id in existing
        if (exists and external_id not in reachable) or (not exists and not create):
            outcome.rejected.append(RejectedRow(index, external_id, NOT_FOUND, "not_found"))
            continue
        data = {key: value for key, value in row.items() if key in ACCOUNT_FIELDS}
        candidates.append((index, external_id, data, exists))

    validations = accounts_validate(
        rows=[data for _, _, data, _ in candidates],
        partial=[exists for *_, exists in candidates],
        owners=None if everywhere else owners_assignable_by_token(token=token),
        owner_unknown=OWNER_UNKNOWN if everywhere else OWNER_OUT_OF_REACH,
        # A person's token leaves no account without an owner, and names as a parent only
        # an account it reaches: one outside reads as unknown, as everywhere.
        owner_required=token.user_id is not None,
        parents=None if token.user_id is None else accounts_visible_to_token(token=token),
    )
    good: list[tuple[int, str, dict[str, Any]]] = []
    for (index, external_id, _data, exists), validation in zip(
        candidates, validations, strict=True
    ):
        errors = validation.errors
        if errors:
            outcome.rejected.append(RejectedRow(index, external_id, errors))
            continue
        cleaned = validation.cleaned
        if not exists and "owner" not in cleaned and token.user_id is not None:
            cleaned["owner"] = token.user
        good.append((index, cleaned["external_id"], cleaned))

    result = accounts_bulk_upsert(
        rows=[cleaned for *_, cleaned in good], create=create, arr_source="api"
    )
    missing = set(result.missing)
    for index, external_id, _ in good:
        if external_id in missing:  # deleted since it was read
            outcome.rejected.append(RejectedRow(index, external_id, NOT_FOUND, "not_found"))
    outcome.rejected.sort(key=lambda row: row.index)
    outcome.created, outcome.updated = result.created, result.updated
    return outcome


class SavedViewSerializer(serializers.ModelSerializer):
    """A saved view of the account list: GET and POST /api/v1/saved-views/."""

    owner: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="Username of the person who saved it."
    )
    team = SlugLookupField(
        slug_field="name",
        queryset=Team.objects.all(),
        allow_null=True,
        required=False,
        help_text="Name of the team it is shared with (one of the owner's teams); null: personal.",
    )
    query = serializers.CharField(
        allow_blank=True,
        max_length=2000,
        help_text="The account list's filters and sort as a query string, e.g. "
        "`level=at_risk&segment=enterprise&sort=-arr`. Stored normalised (the list's "
        "own parameters in its order, empty ones left out, the sort always given); an "
        "unknown parameter or a value the list refuses is a 400 naming it.",
    )
    url = serializers.SerializerMethodField(help_text="The account list page it opens.")

    class Meta:
        model = SavedView
        fields = ["id", "name", "query", "team", "owner", "url", "created_at"]
        read_only_fields = ["id", "owner", "url", "created_at"]

    def get_url(self, view: SavedView) -> str:
        return view.get_absolute_url()
