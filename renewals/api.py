"""REST API of renewals: an account's outcomes (read; record one through
``outcome_record``), the renewals coming up, the reasons, and the retention figures.
Accounts are found through the token's reach (``accounts_visible_to_token``): one outside
it is 404, as a missing one."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import request_token
from accounts.models import Account
from accounts.selectors import account_get_visible_to_token, accounts_visible_to_token, customers_q
from config.api_schema import error_responses
from renewals.models import RenewalReason
from renewals.selectors import DEFAULT_WINDOW, account_outcomes, retention_figures
from renewals.serializers import (
    OutcomeSerializer,
    OutcomeWriteSerializer,
    RenewalReasonSerializer,
    RenewalSerializer,
    RetentionQuerySerializer,
    RetentionSerializer,
)
from renewals.services import outcome_record

READ = "accounts:read"
WRITE = "accounts:write"
EXTERNAL_ID = OpenApiParameter(
    "external_id", str, OpenApiParameter.PATH, description="The account's external id."
)


@extend_schema(tags=["renewals"], parameters=[EXTERNAL_ID])
class AccountOutcomesView(APIView):
    required_scopes = {"GET": READ, "POST": WRITE}

    @extend_schema(
        summary="List an account's renewal outcomes",
        description="Every outcome recorded for the account, the latest renewal first "
        "(one per renewal: not paged).",
        responses={200: OutcomeSerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request, external_id: str) -> Response:
        account = account_get_visible_to_token(
            token=request_token(request), external_id=external_id
        )
        return Response(OutcomeSerializer(account_outcomes(account=account), many=True).data)

    @extend_schema(
        summary="Record a renewal outcome",
        description="Records what happened at the account's renewal (by default its "
        "current renewal date) and applies it: renewed, expanded or downgraded set the new "
        "ARR and move the renewal date on (12 months, or `next_renewal`); churned sets the "
        "churn date and the lifecycle stage, and the account's open work is closed. A "
        "400 names each bad field: an ARR that does not go the kind's way, more than three "
        "reasons or an inactive one, a renewal that has an outcome already, an account "
        "that has churned. Nothing is written then.",
        request=OutcomeWriteSerializer,
        examples=[
            OpenApiExample(
                "An expansion",
                value={"kind": "expanded", "arr_after": 30000, "reasons": ["more_seats"]},
                request_only=True,
            )
        ],
        responses={201: OutcomeSerializer, **error_responses(400, 404, 413)},
    )
    def post(self, request: Request, external_id: str) -> Response:
        token = request_token(request)
        account = account_get_visible_to_token(token=token, external_id=external_id)
        serializer = OutcomeWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = outcome_record(
            account=account, now=timezone.now(), recorded_by=token.user, **serializer.validated_data
        )
        outcome = account_outcomes(account=account).get(pk=outcome.pk)
        return Response(OutcomeSerializer(outcome).data, status=201)


class RenewalQuerySerializer(serializers.Serializer):
    within = serializers.IntegerField(min_value=1, max_value=366, default=DEFAULT_WINDOW)
    owner = serializers.CharField(required=False, help_text="Username of the owner CSM.")


@extend_schema(
    tags=["renewals"],
    summary="List upcoming renewals",
    description="Customers whose renewal date is at most `within` days away, soonest "
    "first: those whose date has passed with no outcome recorded come first (`passed`). "
    "Cursor-paginated like the account list.",
    parameters=[RenewalQuerySerializer],
    responses={200: RenewalSerializer(many=True), **error_responses(400, 404)},
)
class RenewalListView(generics.ListAPIView):
    required_scopes = {"GET": READ}
    serializer_class = RenewalSerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Account]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no token
            return Account.objects.none()
        query = RenewalQuerySerializer(data=self.request.query_params)
        if not query.is_valid():
            raise ValidationError(query.errors)
        today = self.today
        found = accounts_visible_to_token(token=request_token(self.request)).filter(
            customers_q(on=today),
            renewal_date__lte=today + dt.timedelta(days=query.validated_data["within"]),
        )
        if owner := query.validated_data.get("owner"):
            found = found.filter(owner__username=owner)
        return found.select_related("owner", "health__band").order_by("renewal_date", "pk")

    @property
    def today(self) -> dt.date:
        return timezone.localdate()

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "today": self.today}


@extend_schema(
    tags=["renewals"],
    summary="List renewal reasons",
    description="The reasons an outcome may give, in their order; inactive ones are "
    "kept for the outcomes that gave them but may not be given any more.",
    responses={200: RenewalReasonSerializer(many=True), **error_responses()},
)
class RenewalReasonListView(APIView):
    required_scopes = {"GET": READ}

    def get(self, request: Request) -> Response:
        reasons = RenewalReason.objects.order_by("order", "name")
        return Response(RenewalReasonSerializer(reasons, many=True).data)


@extend_schema(
    tags=["renewals"],
    summary="Retention figures",
    description="Gross and net revenue retention (GRR, NRR) of the period [start, end) "
    "over the accounts the token reaches, in total and per team, owner or segment, and "
    "the churned and downgraded ARR by reason. The cohort is the accounts that were "
    "customers with an ARR at `start`; accounts that came in during the period are "
    "left out (docs/retention.md).",
    parameters=[RetentionQuerySerializer],
    responses={200: RetentionSerializer, **error_responses(400)},
)
class RetentionView(APIView):
    required_scopes = {"GET": READ}

    def get(self, request: Request) -> Response:
        query = RetentionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        figures = retention_figures(
            accounts=accounts_visible_to_token(token=request_token(request)),
            **query.validated_data,
        )
        return Response(RetentionSerializer(figures).data)
