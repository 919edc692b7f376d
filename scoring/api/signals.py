"""POST /api/v1/signals/: batches of signals from product analytics, support desks,
surveys. One JSON parse, plain validation per row (``scoring.ingest``, no serializer
per row), one COPY and one INSERT for the batch: see docs/benchmarks.md."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import request_token
from accounts.selectors import accounts_visible_to_token
from config.api import JSONParser
from config.api_schema import error_responses
from config.errors import PayloadTooLarge
from scoring.ingest import signals_ingest
from scoring.serializers import (
    SIGNALS_MAX_ROWS,
    SignalBatchResultSerializer,
    SignalBatchSerializer,
)


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
    required_scopes = {"POST": "signals:write"}
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
        report = signals_ingest(
            rows=rows, accounts=accounts_visible_to_token(token=request_token(request))
        )
        return Response(
            {
                "accepted": report.accepted,
                "duplicates": report.duplicates,
                "rejected": [{"index": i, "errors": errors} for i, errors in report.rejected],
            }
        )
