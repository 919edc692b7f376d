"""An account's health score over the API: the latest with its breakdown, the history,
and recompute now; by the account's external id, within the token's reach."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import EXTERNAL_ID
from accounts.authentication import request_token
from accounts.models import Account
from accounts.selectors import account_get_visible_to_token
from config.api_schema import error_responses
from config.errors import Conflict, DomainError
from scoring.models import AccountHealth, HealthScore
from scoring.selectors import account_health_get, health_scores_between, score_breakdown
from scoring.serializers import ScoreHistorySerializer, ScoreSerializer
from scoring.services import recompute_now


class NotScored(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_scored"


def score_body(*, account: Account, health: AccountHealth) -> dict[str, Any]:
    model = health.model
    return ScoreSerializer(
        {
            "account": account.external_id,
            "model": model,
            "score": health.score,
            "band": health.band,
            "raw_band": health.raw_band,
            "pending": {
                "band": health.pending_band,
                "scorings": health.pending_count,
                "scorings_needed": model.dwell_scorings,
                "since": health.pending_since,
            }
            if health.pending_band_id
            else None,
            "rebaseline": health.rebaseline,
            "completeness": health.completeness,
            "computed_at": health.computed_at,
            "trend_7d": health.trend_7d,
            "trend_30d": health.trend_30d,
            "trend_90d": health.trend_90d,
            "components": [
                {
                    "metric": row.metric_key,
                    "label": row.label,
                    "unit": row.unit,
                    "rule": row.rule,
                    "weight": row.weight,
                    "raw_value": row.raw,
                    "score": row.score,
                    "contribution": row.contribution,
                }
                for row in score_breakdown(health_score=health.health_score)
            ],
        }
    ).data


def _not_scored() -> NotScored:
    return NotScored(
        "This account has no health score yet: no active scoring model has scored it. "
        "Send its signals and recompute (POST …/recompute/) or wait for the nightly run."
    )


class AccountScoreView(APIView):
    required_scopes = {"GET": "scores:read"}

    @extend_schema(
        tags=["scores"],
        summary="An account's latest health score",
        description="The latest score with its band, trends and breakdown per component "
        "(metric, weight, raw value, component score, contribution). 404 `not_found` when "
        "the account is missing or out of reach; 404 `not_scored` when it has no score yet.",
        parameters=[EXTERNAL_ID],
        responses={200: ScoreSerializer, **error_responses(404)},
    )
    def get(self, request: Request, external_id: str) -> Response:
        account = account_get_visible_to_token(
            token=request_token(request), external_id=external_id
        )
        health = account_health_get(account=account)
        if health is None:
            raise _not_scored()
        return Response(score_body(account=account, health=health))


def _moment(request: Request, name: str, *, end_of_day: bool) -> dt.datetime | None:
    """A query parameter as an aware datetime: ISO 8601 date-time (UTC without an
    offset) or a date (its start, or its end for ``end_of_day``); 400 naming it."""
    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    example = "e.g. 2026-11-01 or 2026-11-01T10:00:00Z"
    try:
        day = parse_date(text)
        moment = parse_datetime(text) if day is None else None
    except ValueError:
        raise ValidationError({name: [f"{text!r} is not a valid date ({example})."]}) from None
    if day is not None:
        return dt.datetime.combine(day, dt.time.max if end_of_day else dt.time.min, tzinfo=dt.UTC)
    if moment is None:
        raise ValidationError(
            {name: [f"{text!r} is not an ISO 8601 date or date-time ({example})."]}
        )
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        raise ValidationError({name: [f"{text!r} is out of range."]}) from None


@extend_schema(
    tags=["scores"],
    summary="An account's score history",
    description="Every computation of the account's score, newest first, paginated. "
    "`since` and `until` bound it (inclusive): an ISO 8601 date-time, or a date (from its "
    "start, until its end, in UTC).",
    parameters=[
        EXTERNAL_ID,
        OpenApiParameter(
            "since",
            str,
            description="From this moment, e.g. `2026-10-01` or `2026-10-01T00:00:00Z`.",
        ),
        OpenApiParameter("until", str, description="Up to this moment, e.g. `2026-10-31`."),
    ],
    responses={200: ScoreHistorySerializer(many=True), **error_responses(400, 404)},
)
class AccountScoreHistoryView(generics.ListAPIView):
    required_scopes = {"GET": "scores:read"}
    serializer_class = ScoreHistorySerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[HealthScore]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no token
            return HealthScore.objects.none()
        account = account_get_visible_to_token(
            token=request_token(self.request), external_id=self.kwargs["external_id"]
        )
        since = _moment(self.request, "since", end_of_day=False)
        until = _moment(self.request, "until", end_of_day=True)
        if since and until and since > until:
            raise ValidationError(
                {"until": [f"Is before since ({since.isoformat()}): nothing can match."]}
            )
        return health_scores_between(account=account, since=since, until=until)


class AccountRecomputeView(APIView):
    required_scopes = {"POST": "accounts:write"}

    @extend_schema(
        tags=["scores"],
        summary="Recompute an account's score now",
        description="Scores the account now with the active scoring models, in this "
        "request, and answers with its new score (as `GET …/score/`). Band changes and "
        "score drops it finds are recorded like any recompute's. 409 `not_scored` when no "
        "active model applies to the account (or it has churned).",
        parameters=[EXTERNAL_ID],
        request=None,
        responses={200: ScoreSerializer, **error_responses(404, 409)},
    )
    def post(self, request: Request, external_id: str) -> Response:
        token = request_token(request)
        account = account_get_visible_to_token(token=token, external_id=external_id)
        run = recompute_now(account=account, requested_by=token.user)
        health = account_health_get(account=account)
        if not run.accounts_scored or health is None:
            raise Conflict(
                "Nothing was scored: no active scoring model applies to this account, or "
                "it has churned.",
                code="not_scored",
            )
        return Response(score_body(account=account, health=health))
