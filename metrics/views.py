"""HTTP API of the metrics app: GET /metrics."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api_keys.services import tenant_access_check
from metrics.selectors import metrics_list
from metrics.serializers import MetricsQuerySerializer, MetricsSerializer
from midnite_test.pagination import next_page_url
from midnite_test.serializers import ErrorSerializer, query_parse


class MetricsView(APIView):
    """GET /metrics: time-bucketed counts and amount sums of a tenant's events."""

    @extend_schema(
        operation_id="metrics_list",
        summary="Event counts and amount sums per time bucket",
        description=(
            "From buckets a worker keeps up to date from the outbox; `as_of` says up to when "
            "every committed event is counted (within about a second under `make run`). "
            "Oldest first, at most `page_size` buckets (5,000, the default and the most) an "
            "answer; `next` is the URL of the next page, null on the last. "
            "Errors: 400 `invalid_query` (an unknown `bucket_size` included), 403 "
            "`tenant_forbidden`."
        ),
        parameters=[MetricsQuerySerializer],
        responses={200: MetricsSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
        examples=[
            OpenApiExample(
                "hourly",
                value={
                    "tenant_id": "tenant_1",
                    "bucket_size": "hour",
                    "as_of": "2024-01-15T11:00:00.5Z",
                    "dead_lettered": 0,
                    "buckets": [
                        {
                            "bucket_start": "2024-01-15T10:00:00Z",
                            "source": "web",
                            "event_type": "purchase",
                            "count": 2,
                            "amount_sum": "25.00",
                        }
                    ],
                    "next": None,
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = query_parse(MetricsQuerySerializer, request)
        tenant_access_check(key=request.auth, tenant_id=query["tenant_id"])
        metrics = metrics_list(
            tenant_id=query["tenant_id"],
            bucket_size=query["bucket_size"],
            bucket_from=query.get("from"),
            bucket_to=query.get("to"),
            source=query.get("source"),
            event_type=query.get("event_type"),
            page_size=query["page_size"],
            cursor=query.get("cursor"),
        )
        body = {
            "tenant_id": query["tenant_id"],
            "bucket_size": query["bucket_size"],
            "next": next_page_url(request, metrics.next_cursor),
        }
        return Response(MetricsSerializer(body | vars(metrics)).data)
