"""Configuration over the API: metrics and scoring models (``config:read`` to read,
``config:write`` to change), validated as a whole and written by ``scoring.services``."""

from __future__ import annotations

from django.db import IntegrityError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from config.api_schema import error_responses
from config.errors import Conflict
from scoring.models import Metric, ScoringModel
from scoring.serializers import (
    MetricSerializer,
    ScoringModelSerializer,
    band_inputs,
    component_inputs,
)
from scoring.services import (
    metric_delete,
    metric_save,
    scoring_model_activate,
    scoring_model_draft_save,
)


@extend_schema(tags=["configuration"])
class MetricListView(generics.ListCreateAPIView):
    required_scopes = {"GET": "config:read", "POST": "config:write"}
    serializer_class = MetricSerializer
    queryset = Metric.objects.order_by("key")
    filter_backends: list = []

    @extend_schema(
        summary="List metrics",
        responses={200: MetricSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create a metric",
        responses={201: MetricSerializer, **error_responses(400, 413)},
    )
    def post(self, request: Request, *args, **kwargs) -> Response:
        return super().post(request, *args, **kwargs)

    def perform_create(self, serializer: BaseSerializer[Metric]) -> None:
        serializer.instance = metric_save(fields=serializer.validated_data)


METRIC_KEY = OpenApiParameter("key", str, OpenApiParameter.PATH, description="The metric's key.")


@extend_schema(tags=["configuration"], parameters=[METRIC_KEY])
class MetricDetailView(generics.RetrieveUpdateDestroyAPIView):
    required_scopes = {"GET": "config:read", "PATCH": "config:write", "DELETE": "config:write"}
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
        "window applies to the drafts that use the metric at once; an active scoring "
        "model version keeps the definition it was activated with (listed in `kept_by`), "
        "so its scores never move and past scores stay reproducible, until a new version "
        "of it is activated.",
        responses={200: MetricSerializer, **error_responses(400, 404, 413)},
    )
    def patch(self, request: Request, *args, **kwargs) -> Response:
        return super().patch(request, *args, **kwargs)

    def perform_update(self, serializer: BaseSerializer[Metric]) -> None:
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
        metric_delete(metric=self.get_object())  # 409 in_use when something refers to it
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Configuration: scoring models ---------------------------------------------------------


def _models() -> QuerySet[ScoringModel]:
    return ScoringModel.objects.prefetch_related("components__metric", "bands").order_by(
        "key", "-version"
    )


def _draft_save(
    serializer: BaseSerializer[ScoringModel], model: ScoringModel | None
) -> ScoringModel:
    """Save a ScoringModelSerializer's validated data as a draft."""
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
            {"name": "At-risk", "lower": None, "color": "#dc2626", "level": "at_risk"},
            {"name": "Neutral", "lower": 50, "color": "#ca8a04", "level": "neutral"},
            {"name": "Healthy", "lower": 75, "color": "#16a34a", "level": "healthy"},
        ],
    },
    request_only=True,
)


@extend_schema(tags=["configuration"])
class ScoringModelListView(generics.ListCreateAPIView):
    required_scopes = {"GET": "config:read", "POST": "config:write"}
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
    required_scopes = {"GET": "config:read", "PATCH": "config:write"}
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
    required_scopes = {"POST": "config:write"}

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
        scoring_model_activate(model=model)  # 409 not_draft, 400 invalid_model
        return Response(ScoringModelSerializer(_models().get(pk=model.pk)).data)
