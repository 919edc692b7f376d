"""REST API for an account's contacts and touches: /api/v1/accounts/{external_id}/contacts/
and …/touches/.

The account is found through ``account_get_visible_to_token`` (one outside the token's
reach is 404, as a missing one); writes go through ``contacts.services``."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import request_token
from accounts.selectors import account_get_visible_to_token
from config.api_schema import error_responses
from contacts.models import Touch
from contacts.selectors import account_contacts, account_touches
from contacts.serializers import (
    ContactSerializer,
    ContactsUpsertResultSerializer,
    ContactsUpsertSerializer,
    TouchesLoggedSerializer,
    TouchesLogSerializer,
    TouchSerializer,
)
from contacts.services import ContactInvalid, TouchInvalid, contacts_upsert, touches_log

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


@extend_schema(tags=["contacts"], parameters=[EXTERNAL_ID])
class AccountTouchesView(generics.ListAPIView):
    required_scopes = {"GET": "accounts:read", "POST": "accounts:write"}
    serializer_class = TouchSerializer

    def get_queryset(self) -> QuerySet[Touch]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no token
            return Touch.objects.none()
        account = account_get_visible_to_token(
            token=request_token(self.request), external_id=self.kwargs["external_id"]
        )
        return account_touches(account=account)

    @extend_schema(
        summary="List an account's touches",
        description="The calls, emails, meetings and QBRs logged on the account, newest "
        "first, paginated, each with the contacts who took part (by email).",
        responses={200: TouchSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Log touches on an account",
        description="Each touch is a call, email, meeting or QBR that happened at `at` "
        "(now when left out; never in the future), with the account's contacts who took "
        "part, by email. All or nothing: a 400 names each bad touch by its index under "
        "`touches` and then the field (a kind that does not exist, a time ahead of now, an "
        "email that is not a contact of this account). Each touch counts in the built-in "
        "metrics `days_since_touch` and `touches_30d`. 201 with how many were logged and "
        "the touches.",
        request=TouchesLogSerializer,
        examples=[
            OpenApiExample(
                "A QBR with the champion",
                value={
                    "touches": [
                        {
                            "kind": "qbr",
                            "at": "2026-12-01T15:00:00Z",
                            "contacts": ["dana@acme.example"],
                            "note": "Renewal looks safe; wants the SSO add-on.",
                        }
                    ]
                },
                request_only=True,
            )
        ],
        responses={201: TouchesLoggedSerializer, **error_responses(400, 404, 413)},
    )
    def post(self, request: Request, external_id: str) -> Response:
        token = request_token(request)
        account = account_get_visible_to_token(token=token, external_id=external_id)
        serializer = TouchesLogSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        now = timezone.now()
        rows = [
            {**row, "at": row["at"] or now, "contact_emails": row.pop("contacts")}
            for row in serializer.validated_data["touches"]
        ]
        try:
            touches = touches_log(account=account, rows=rows, by=token.user, now=now)
        except TouchInvalid as exc:
            exc.fields = {"touches": exc.fields}
            raise
        touches = list(account_touches(account=account).filter(pk__in=[t.pk for t in touches]))
        body = {"created": len(touches), "results": TouchSerializer(touches, many=True).data}
        return Response(body, status=status.HTTP_201_CREATED)
