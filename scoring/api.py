"""REST API of the scoring app: signal ingest, health scores and recompute (by the
account's external id), and the configuration of metrics and scoring models.

Accounts are reached through ``accounts_visible_to_token`` only: an account out of a
token's reach answers 404, and its signals are rejected as "unknown account", exactly
as for an account that does not exist.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError
from django.db.models import QuerySet
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import EXTERNAL_ID
from accounts.models import Account, ApiToken
from accounts.selectors import account_get_visible_to_token, accounts_visible_to_token
from config.api_schema import error_responses
from config.errors import DomainError, PayloadTooLarge
from scoring.ingest import signals_ingest
from scoring.models import AccountHealth, HealthScore, Metric, ScoringModel
from scoring.selectors import account_health_get, health_scores_between, score_breakdown
from scoring.serializers import (
    SIGNALS_MAX_ROWS,
    MetricSerializer,
    ScoreHistorySerializer,
    ScoreSerializer,
    ScoringModelSerializer,
    SignalBatchResultSerializer,
    SignalBatchSerializer,
    band_inputs,
    component_inputs,
)
from scoring.services import (
    ScoringError,
    metric_delete,
    metric_save,
    recompute_now,
    scoring_model_activate,
    scoring_model_draft_save,
)

SIGNALS_WRITE = "signals:write"
SCORES_READ = "scores:read"
ACCOUNTS_WRITE = "accounts:write"
CONFIG_READ = "config:read"
CONFIG_WRITE = "config:write"


class NotScored(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_scored"


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


# --- Signals -------------------------------------------------------------------------------


@extend_schema(
    tags=["signals"],
    summary="Send signals",
    description=f"Stores up to {SIGNALS_MAX_ROWS:,} signals in one request. Each good row "
    "is stored; each bad row is reported by its index with the reason per field "
    "(unknown account, unknown metric, not a number, bad timestamp, …) and nothing else "
    "is affected. A row whose `id` was stored before (by any request, or earlier in this "
    "one) is counted in `duplicates` and not stored again, so a batch can be re-sent "
    "safely. A token acting for a person may only send signals for that person's "
    "accounts; others are rejected as unknown accounts. Always 200 when the batch was "
    "read: look at `rejected`. More rows than the limit: 413, nothing stored.",
    request=SignalBatchSerializer,
    examples=[
        OpenApiExample(
            "Product usage",
            value={
                "signals": [
                    {
                        "account": "0015g00000XyZ12",
                        "metric": "logins",
                        "value": 12,
                        "timestamp": "2026-11-01T10:00:00Z",
                        "id": "usage-0015g00000XyZ12-2026-11-01",
                        "source": "product",
                    }
                ]
            },
            request_only=True,
        ),
        OpenApiExample(
            "Outcome",
            value={
                "accepted": 1,
                "duplicates": 0,
                "rejected": [{"index": 1, "errors": {"metric": ["Unknown metric 'karma'."]}}],
            },
            response_only=True,
        ),
    ],
    responses={200: SignalBatchResultSerializer, **error_responses(400, 413)},
)
class SignalIngestView(APIView):
    required_scopes = {"POST": SIGNALS_WRITE}
    # Batches are large: one fast JSON parse, then plain validation per row (no
    # serializer per row), then one INSERT for the batch.
    parser_classes = [JSONParser]

    def post(self, request: Request) -> Response:
        data = request.data
        rows = data.get("signals") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise ValidationError({"signals": ["Expected a list of signal objects."]})
        if len(rows) > SIGNALS_MAX_ROWS:
            raise PayloadTooLarge(
                f"At most {SIGNALS_MAX_ROWS:,} signals per request; this one has "
                f"{len(rows):,}. Send them in several requests.",
                code="batch_too_large",
            )
        report = signals_ingest(rows=rows, accounts=accounts_visible_to_token(token=request.auth))
        return Response(
            {
                "accepted": report.accepted,
                "duplicates": report.duplicates,
                "rejected": [{"index": i, "errors": errors} for i, errors in report.rejected],
            }
        )


# --- Scores -------------------------------------------------------------------------------


def score_body(*, account: Account, health: AccountHealth) -> dict[str, Any]:
    model = health.model
    return ScoreSerializer(
        {
            "account": account.external_id,
            "model": model,
            "score": health.score,
            "band": health.band,
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
    required_scopes = {"GET": SCORES_READ}

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
        account = account_get_visible_to_token(token=request.auth, external_id=external_id)
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
    required_scopes = {"GET": SCORES_READ}
    serializer_class = ScoreHistorySerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[HealthScore]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no token
            return HealthScore.objects.none()
        account = account_get_visible_to_token(
            token=self.request.auth, external_id=self.kwargs["external_id"]
        )
        since = _moment(self.request, "since", end_of_day=False)
        until = _moment(self.request, "until", end_of_day=True)
        if since and until and since > until:
            raise ValidationError(
                {"until": [f"Is before since ({since.isoformat()}): nothing can match."]}
            )
        return health_scores_between(account=account, since=since, until=until)


class AccountRecomputeView(APIView):
    required_scopes = {"POST": ACCOUNTS_WRITE}

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
        token: ApiToken = request.auth
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


# --- Configuration: metrics ----------------------------------------------------------------


@extend_schema(tags=["configuration"])
class MetricListView(generics.ListCreateAPIView):
    required_scopes = {"GET": CONFIG_READ, "POST": CONFIG_WRITE}
    serializer_class = MetricSerializer
    queryset = Metric.objects.order_by("key")
    filter_backends: list = []

    @extend_schema(
        summary="List metrics",
        responses={200: MetricSerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create a metric",
        responses={201: MetricSerializer, **error_responses(400, 413)},
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        return super().post(request, *args, **kwargs)

    def perform_create(self, serializer: MetricSerializer) -> None:
        serializer.instance = metric_save(fields=serializer.validated_data)


METRIC_KEY = OpenApiParameter("key", str, OpenApiParameter.PATH, description="The metric's key.")


@extend_schema(tags=["configuration"], parameters=[METRIC_KEY])
class MetricDetailView(generics.RetrieveUpdateDestroyAPIView):
    required_scopes = {"GET": CONFIG_READ, "PATCH": CONFIG_WRITE, "DELETE": CONFIG_WRITE}
    http_method_names = ["get", "patch", "delete", "head", "options"]
    serializer_class = MetricSerializer
    queryset = Metric.objects.all()
    lookup_field = "key"

    @extend_schema(
        summary="Get a metric", responses={200: MetricSerializer, **error_responses(404)}
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Change a metric",
        description="Changes the fields given. The key cannot change. A new roll-up or "
        "window applies from the next recompute.",
        responses={200: MetricSerializer, **error_responses(400, 404, 413)},
    )
    def patch(self, request: Request, *args, **kwargs) -> Response:
        return super().patch(request, *args, **kwargs)

    def perform_update(self, serializer: MetricSerializer) -> None:
        serializer.instance = metric_save(
            metric=serializer.instance, fields=serializer.validated_data
        )

    @extend_schema(
        summary="Delete a metric",
        description="Only a metric that no scoring model uses and that has no signals: "
        "otherwise 409 `in_use`, saying what uses it.",
        responses={204: None, **error_responses(404, 409)},
    )
    def delete(self, request: Request, *args, **kwargs) -> Response:
        try:
            metric_delete(metric=self.get_object())
        except ScoringError as error:
            raise Conflict(str(error), code="in_use") from None
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Configuration: scoring models ---------------------------------------------------------


def _models() -> QuerySet[ScoringModel]:
    return ScoringModel.objects.prefetch_related("components__metric", "bands").order_by(
        "key", "-version"
    )


def _draft_save(serializer: ScoringModelSerializer, model: ScoringModel | None) -> ScoringModel:
    data = serializer.validated_data
    try:
        saved = scoring_model_draft_save(
            model=model,
            key=data.get("key"),
            based_on=data.get("based_on"),
            fields=data,
            components=component_inputs(data["components"]) if "components" in data else None,
            bands=band_inputs(data["bands"]) if "bands" in data else None,
        )
    except ScoringError as error:
        raise Conflict(str(error), code="not_draft") from None
    except IntegrityError:
        raise Conflict(
            "Another version of this model was created at the same moment; try again.",
            code="conflict",
        ) from None
    return _models().get(pk=saved.pk)


SCORING_MODEL_EXAMPLE = OpenApiExample(
    "A weighted model",
    value={
        "key": "default",
        "name": "Default health",
        "kind": "weighted",
        "components": [
            {
                "metric": "logins",
                "weight": 60,
                "rule": "linear",
                "params": {"worst": 0, "best": 20},
            },
            {
                "metric": "nps",
                "weight": 40,
                "rule": "steps",
                "params": {"steps": [[-100, 0], [0, 50], [30, 100]]},
                "missing": "default",
                "default_value": 0,
            },
        ],
        "bands": [
            {"name": "At-risk", "lower": None, "color": "#dc2626", "is_at_risk": True},
            {"name": "Neutral", "lower": 50, "color": "#ca8a04"},
            {"name": "Healthy", "lower": 75, "color": "#16a34a"},
        ],
    },
    request_only=True,
)


@extend_schema(tags=["configuration"])
class ScoringModelListView(generics.ListCreateAPIView):
    required_scopes = {"GET": CONFIG_READ, "POST": CONFIG_WRITE}
    serializer_class = ScoringModelSerializer
    filterset_fields = ["key", "status", "kind"]

    def get_queryset(self) -> QuerySet[ScoringModel]:
        return _models()

    @extend_schema(
        summary="List scoring models",
        description="Every version of every model, by key and newest version first.",
        responses={200: ScoringModelSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create a scoring model (a draft)",
        description="Creates a draft: version 1 of a new key, or the next version of an "
        "existing key. With `based_on`, a copy of that version as its key's next version, "
        "with the fields given changed. The whole model is checked: 400 names each bad "
        "field, by component or band index. Activate it with `…/activate/`.",
        examples=[SCORING_MODEL_EXAMPLE],
        responses={201: ScoringModelSerializer, **error_responses(400, 409, 413)},
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        model = _draft_save(serializer, None)
        return Response(self.get_serializer(model).data, status=status.HTTP_201_CREATED)


MODEL_ID = OpenApiParameter(
    "id", int, OpenApiParameter.PATH, description="The id of the scoring model version."
)


@extend_schema(tags=["configuration"], parameters=[MODEL_ID])
class ScoringModelDetailView(generics.RetrieveUpdateAPIView):
    required_scopes = {"GET": CONFIG_READ, "PATCH": CONFIG_WRITE}
    http_method_names = ["get", "patch", "head", "options"]
    serializer_class = ScoringModelSerializer
    lookup_field = "id"

    def get_queryset(self) -> QuerySet[ScoringModel]:
        return _models()

    @extend_schema(
        summary="Get a scoring model",
        responses={200: ScoringModelSerializer, **error_responses(404)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Change a draft scoring model",
        description="Only drafts change (409 `not_draft` otherwise: create a new version "
        "with `based_on`). The fields given change; `components` and `bands`, when given, "
        "replace the model's. The whole model is checked again.",
        responses={200: ScoringModelSerializer, **error_responses(400, 404, 409, 413)},
    )
    def patch(self, request: Request, *args, **kwargs) -> Response:
        model = self.get_object()
        serializer = self.get_serializer(model, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return Response(self.get_serializer(_draft_save(serializer, model)).data)


class ScoringModelActivateView(APIView):
    required_scopes = {"POST": CONFIG_WRITE}

    @extend_schema(
        tags=["configuration"],
        summary="Activate a draft scoring model",
        description="Makes the draft the active version of its key and retires the version "
        "that was active. Scores use it from the next recompute. 409 `not_draft` for a "
        "model that is not a draft; 400 `invalid_model` when it cannot score (the message "
        "says why).",
        parameters=[MODEL_ID],
        request=None,
        responses={200: ScoringModelSerializer, **error_responses(400, 404, 409)},
    )
    def post(self, request: Request, id: int) -> Response:
        model = generics.get_object_or_404(ScoringModel, pk=id)
        if model.status != ScoringModel.Status.DRAFT:
            raise Conflict(
                f"{model} is {model.get_status_display().lower()}, not a draft.",
                code="not_draft",
            )
        try:
            scoring_model_activate(model=model)
        except ScoringError as error:
            raise DomainError(str(error), code="invalid_model") from None
        return Response(ScoringModelSerializer(_models().get(pk=model.pk)).data)
