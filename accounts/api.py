"""REST API for accounts (/api/v1/accounts/), looked up by external id.

Every view reads through ``accounts_visible_to_token``: a token acting for a person
reaches that person's accounts and answers 404 for any other, existing or not.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, renderers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import request_token
from accounts.export import export_response
from accounts.filters import AccountApiFilter
from accounts.models import Account, SavedView
from accounts.selectors import (
    account_get_visible_to_token,
    accounts_visible_to_token,
    saved_view_get_own,
    saved_views_visible_to,
)
from accounts.serializers import (
    BULK_MAX_ROWS,
    AccountBulkRequestSerializer,
    AccountBulkResponseSerializer,
    AccountSerializer,
    AccountUpsertSerializer,
    RejectedRow,
    SavedViewSerializer,
    accounts_upsert,
)
from accounts.services import (
    accounts_delete,
    saved_view_create,
    saved_view_update,
    saved_views_delete,
)
from config.api import CSVRenderer
from config.api_schema import error_responses
from config.errors import DomainError, PayloadTooLarge
from scoring.selectors import band_names

READ = "accounts:read"
WRITE = "accounts:write"

EXTERNAL_ID = OpenApiParameter(
    "external_id",
    str,
    OpenApiParameter.PATH,
    description="The account's id in your CRM (the `external_id` field).",
)

ACCOUNT_EXAMPLE = OpenApiExample(
    "An account from the CRM",
    value={
        "external_id": "0015g00000XyZ12",
        "name": "Acme Analytics",
        "domain": "acme.example",
        "owner": "alice",
        "parent": "0015g00000XyZ01",
        "segment": "mid_market",
        "plan": "Growth",
        "lifecycle_stage": "adopting",
        "arr": 48000,
        "contract_start": "2026-01-01",
        "renewal_date": "2027-01-01",
        "attributes": {"region": "EMEA"},
    },
    request_only=True,
)


def _row_error(row: RejectedRow) -> Exception:
    if row.code == "not_found":
        return NotFound("No such account.")
    return ValidationError(row.errors)


def _with_url_id(data: object, external_id: str) -> dict:
    """The request body with the URL's external id; a different one in the body is an error."""
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
    given = data.get("external_id", external_id)
    if given != external_id:
        raise ValidationError(
            {"external_id": [f"Does not match the URL ('{external_id}'); ids cannot be renamed."]}
        )
    return {**data, "external_id": external_id}


PAGING = ("cursor", "page", "page_size")


@extend_schema(
    tags=["accounts"],
    summary="List accounts",
    description="The accounts this token reaches, a page at a time (follow `next`). Filter "
    "by the band of their latest health score (`band`), level, segment, owner, renewal date "
    "or text; order by name, ARR, renewal date, creation, `score` or `trend_30d`. With "
    "`Accept: text/csv` (or `format=csv`) the answer is the whole filtered list as one CSV "
    "file, in the list's order, streamed as it is read: the columns of the account list's "
    "export.",
    parameters=[
        OpenApiParameter(
            "format",
            str,
            enum=["json", "csv"],
            description="`csv` for the whole list as a CSV file, as `Accept: text/csv` does "
            "(no paging parameters then). Default: JSON pages.",
        )
    ],
    responses={
        (200, "application/json"): AccountSerializer(many=True),
        (200, "text/csv"): OpenApiResponse(
            OpenApiTypes.STR, description="The whole filtered list, one account a row."
        ),
        **error_responses(400, 404),
    },
)
class AccountListView(generics.ListAPIView):
    required_scopes = {"GET": READ}
    serializer_class = AccountSerializer
    filterset_class = AccountApiFilter
    renderer_classes = [renderers.JSONRenderer, CSVRenderer]

    def get_queryset(self) -> QuerySet[Account]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no token
            return Account.objects.none()
        return accounts_visible_to_token(token=request_token(self.request)).select_related(
            "owner", "parent"
        )

    def list(self, request: Request, *args, **kwargs):
        if request.accepted_renderer.format != CSVRenderer.format:
            return super().list(request, *args, **kwargs)
        paging = [name for name in PAGING if name in request.query_params]
        if paging:
            raise ValidationError(
                {name: ["A CSV file is the whole list: leave paging out."] for name in paging}
            )
        return export_response(self.filter_queryset(self.get_queryset()))

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors asked for as CSV are answered in JSON, as every other error is.
        if isinstance(response, Response) and isinstance(
            getattr(request, "accepted_renderer", None), CSVRenderer
        ):
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = renderers.JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class AccountDetailView(APIView):
    required_scopes = {"GET": READ, "PUT": WRITE, "PATCH": WRITE, "DELETE": WRITE}

    @extend_schema(
        tags=["accounts"],
        summary="Get an account",
        parameters=[EXTERNAL_ID],
        responses={200: AccountSerializer, **error_responses(404)},
    )
    def get(self, request: Request, external_id: str) -> Response:
        account = account_get_visible_to_token(
            token=request_token(request),
            external_id=external_id,
            queryset=Account.objects.select_related("owner", "parent"),
        )
        return Response(AccountSerializer(account).data)

    @extend_schema(
        tags=["accounts"],
        summary="Create or update an account (idempotent upsert)",
        description="Creates the account (201) or updates it (200). Only the fields given "
        "change; `name` is required when creating. Repeating the request changes nothing "
        "more. An account that exists outside the token's reach answers 404.",
        parameters=[EXTERNAL_ID],
        request=AccountUpsertSerializer,
        examples=[ACCOUNT_EXAMPLE],
        responses={
            200: AccountSerializer,
            201: AccountSerializer,
            **error_responses(400, 404, 413),
        },
    )
    def put(self, request: Request, external_id: str) -> Response:
        return self._upsert(request, external_id, create=True)

    @extend_schema(
        tags=["accounts"],
        summary="Update some fields of an account",
        parameters=[EXTERNAL_ID],
        request=AccountSerializer(partial=True),
        responses={200: AccountSerializer, **error_responses(400, 404, 413)},
    )
    def patch(self, request: Request, external_id: str) -> Response:
        return self._upsert(request, external_id, create=False)

    @extend_schema(
        tags=["accounts"],
        summary="Delete an account",
        description="Deletes the account and everything recorded about it.",
        parameters=[EXTERNAL_ID],
        responses={204: None, **error_responses(404)},
    )
    def delete(self, request: Request, external_id: str) -> Response:
        account = account_get_visible_to_token(
            token=request_token(request), external_id=external_id
        )
        accounts_delete(accounts=Account.objects.filter(pk=account.pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _upsert(self, request: Request, external_id: str, *, create: bool) -> Response:
        row = _with_url_id(request.data, external_id)
        outcome = accounts_upsert(token=request_token(request), rows=[row], create=create)
        if outcome.rejected:
            raise _row_error(outcome.rejected[0])
        [written] = outcome.created or outcome.updated  # as stored: stripped of spaces
        account = Account.objects.select_related("owner", "parent").get(external_id=written)
        return Response(
            AccountSerializer(account).data,
            status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
        )


class AccountBulkView(APIView):
    required_scopes = {"POST": WRITE}

    @extend_schema(
        tags=["accounts"],
        summary="Create or update many accounts",
        description=f"Upserts up to {BULK_MAX_ROWS:,} accounts, each like a PUT. Good rows "
        "are stored; each bad row is reported by its index with its field errors and "
        "changes nothing. More rows than the limit: 413, nothing stored.",
        request=AccountBulkRequestSerializer,
        responses={200: AccountBulkResponseSerializer, **error_responses(400, 413)},
    )
    def post(self, request: Request) -> Response:
        data = request.data
        rows = data.get("accounts") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise ValidationError({"accounts": ["Expected a list of account objects."]})
        if len(rows) > BULK_MAX_ROWS:
            raise PayloadTooLarge(
                f"At most {BULK_MAX_ROWS:,} accounts per request; this one has "
                f"{len(rows):,}. Send them in several requests.",
                code="batch_too_large",
            )
        outcome = accounts_upsert(token=request_token(request), rows=rows)
        body = {
            "created": len(outcome.created),
            "updated": len(outcome.updated),
            "rejected": [
                {"index": row.index, "external_id": row.external_id, "errors": row.errors}
                for row in outcome.rejected
            ],
        }
        return Response(body)


# --- Saved views of the account list ------------------------------------------------------


class NoPerson(DomainError):
    """A saved view belongs to a person; a token acting for no one cannot save one."""

    code = "token_without_user"


@extend_schema_view(
    get=extend_schema(
        tags=["saved views"],
        summary="List saved views",
        description="The account list's saved views this token's person may open: their "
        "own and those shared with their teams (an admin: their own and every shared "
        "one). A token acting for no one lists every shared view. Open one as "
        "`/accounts/?{query}` (its `url`).",
        responses={200: SavedViewSerializer(many=True), **error_responses(400, 404)},
    ),
    post=extend_schema(
        tags=["saved views"],
        summary="Save a view",
        description="Saves `query` (the account list's filters and sort) under `name` for "
        "the token's person, personal or shared with `team`. The name is unique per "
        "person in any letter case; the query is checked as the list page checks it, "
        "for that person (an owner outside their book is refused).",
        request=SavedViewSerializer,
        responses={201: SavedViewSerializer, **error_responses(400, 413)},
    ),
)
class SavedViewListView(generics.ListCreateAPIView):
    required_scopes = {"GET": READ, "POST": WRITE}
    serializer_class = SavedViewSerializer

    def get_queryset(self) -> QuerySet[SavedView]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no token
            return SavedView.objects.none()
        token = request_token(self.request)
        if token.user is None:
            return SavedView.objects.filter(team__isnull=False).select_related("owner", "team")
        return saved_views_visible_to(user=token.user).order_by("name", "pk")

    def create(self, request: Request, *args, **kwargs) -> Response:
        token = request_token(request)
        if token.user is None:
            raise NoPerson(
                "A saved view belongs to a person, and this token acts for no one: "
                "use a token issued for the person who saves it."
            )
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        view = saved_view_create(
            owner=token.user,
            name=data["name"],
            query=data["query"],
            team=data.get("team"),
            bands=band_names(),
            now=timezone.now(),
        )
        return Response(self.get_serializer(view).data, status=status.HTTP_201_CREATED)


class SavedViewDetailView(APIView):
    required_scopes = {"PATCH": WRITE, "DELETE": WRITE}

    @extend_schema(
        tags=["saved views"],
        summary="Change a saved view",
        description="Renames a view the token's person saved, shares it with one of their "
        "teams or makes it personal again (`team: null`), or changes its filters "
        "(`query`, checked and normalised as on create). Fields not given stay as they "
        "are. Anyone else's view answers 404 as a missing one does.",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)],
        request=SavedViewSerializer,
        responses={200: SavedViewSerializer, **error_responses(400, 404, 413)},
    )
    def patch(self, request: Request, id: int) -> Response:
        token = request_token(request)
        if token.user is None:
            raise NotFound("No such saved view.")
        view = saved_view_get_own(user=token.user, pk=id)
        serializer = SavedViewSerializer(view, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        view = saved_view_update(
            view=view,
            name=data.get("name", view.name),
            team=data.get("team", view.team),
            query=data.get("query"),
            bands=band_names(),
        )
        return Response(SavedViewSerializer(view).data)

    @extend_schema(
        tags=["saved views"],
        summary="Delete a saved view",
        description="Deletes a view the token's person saved. Anyone else's view, shared "
        "or not, answers 404 as a missing one does.",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)],
        responses={204: None, **error_responses(404)},
    )
    def delete(self, request: Request, id: int) -> Response:
        token = request_token(request)
        if token.user is None:
            raise NotFound("No such saved view.")
        view = saved_view_get_own(user=token.user, pk=id)
        saved_views_delete(views=SavedView.objects.filter(pk=view.pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
