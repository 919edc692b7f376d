"""REST API for an account's contacts: /api/v1/accounts/{external_id}/contacts/.

The account is found through ``account_get_visible_to_token`` (one outside the token's
reach is 404, as a missing one); writes go through ``contacts.services``."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import request_token
from accounts.selectors import account_get_visible_to_token
from config.api_schema import error_responses
from contacts.selectors import account_contacts
from contacts.serializers import (
    ContactSerializer,
    ContactsUpsertResultSerializer,
    ContactsUpsertSerializer,
)
from contacts.services import ContactInvalid, contacts_upsert

EXTERNAL_ID = OpenApiParameter(
    "external_id", str, OpenApiParameter.PATH, description="The account's external id."
)


@extend_schema(tags=["contacts"], parameters=[EXTERNAL_ID])
class AccountContactsView(APIView):
    required_scopes = {"GET": "accounts:read", "POST": "accounts:write"}

    @extend_schema(
        summary="List an account's contacts",
        description="Every contact of the account, primary first, those who left last "
        "(an account has a handful: not paged).",
        responses={200: ContactSerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request, external_id: str) -> Response:
        account = account_get_visible_to_token(
            token=request_token(request), external_id=external_id
        )
        return Response(ContactSerializer(account_contacts(account=account), many=True).data)

    @extend_schema(
        summary="Create or update an account's contacts",
        description="Each contact is matched by email (in any letter case) within the "
        "account: updated when it exists, created otherwise. All or nothing: a 400 names "
        "each bad contact by its index under `contacts` and then the field (an email "
        "given twice, a role that does not exist, two primaries). One primary contact "
        "among them takes the account's primary place.",
        request=ContactsUpsertSerializer,
        examples=[
            OpenApiExample(
                "A champion and a billing contact",
                value={
                    "contacts": [
                        {
                            "name": "Dana Reyes",
                            "email": "dana@acme.example",
                            "title": "VP Ops",
                            "role": "champion",
                            "is_primary": True,
                        },
                        {"name": "Accounts payable", "email": "ap@acme.example", "role": "billing"},
                    ]
                },
                request_only=True,
            )
        ],
        responses={200: ContactsUpsertResultSerializer, **error_responses(400, 404, 413)},
    )
    def post(self, request: Request, external_id: str) -> Response:
        account = account_get_visible_to_token(
            token=request_token(request), external_id=external_id
        )
        serializer = ContactsUpsertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rows = serializer.validated_data["contacts"]
        try:
            saved, created, updated = contacts_upsert(
                account=account, rows=rows, now=timezone.now()
            )
        except ContactInvalid as exc:
            exc.fields = {"contacts": exc.fields}
            raise
        body = {
            "created": created,
            "updated": updated,
            "results": ContactSerializer(saved, many=True).data,
        }
        return Response(body)
