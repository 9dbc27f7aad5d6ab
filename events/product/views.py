"""HTTP API for product events: POST /api/v1/events."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api_keys.selectors import tenants_allowed
from api_keys.services import tenant_access_check
from events.product.serializers import (
    ProductEventBatchOutputSerializer,
    ProductEventInputSerializer,
    ProductEventQuerySerializer,
)
from events.product.services import MAX_PRODUCT_EVENTS, product_events_ingest
from midnite_test.serializers import ErrorSerializer, query_parse
from users.models import DEFAULT_TENANT

PRODUCT_EVENT_EXAMPLE = {
    "user_id": "u_12345",
    "event_type": "payment_failed",
    "event_timestamp": "2025-10-31T19:30:00Z",
    "properties": {"failure_reason": "INSUFFICIENT_FUNDS", "attempt_number": 1},
    "user_traits": {"email": "ada@example.com", "timezone": "Europe/London"},
}


class ProductEventIngestView(APIView):
    """POST /api/v1/events: store a batch of product events, each item judged on its own."""

    # 5,000 items of up to 64 KiB of properties each would not fit any limit; as bulk's.
    max_body_bytes = 32 * 1024 * 1024

    @extend_schema(
        operation_id="product_events_ingest",
        summary="Store a batch of 0 to 5,000 product events, idempotently",
        description=(
            "Answers 202 with how many items were stored (`accepted`), were stored before "
            "(`duplicates`: same `event_id` and content; nothing is written or merged again) "
            "and were `rejected` (invalid, or their `event_id` is stored with other content), "
            "each by its index. Valid items are stored even when others are rejected. An item "
            "without `event_id` is identified by its content (user, type, time, properties "
            "and traits). A user is created on first sight by `user_id` (their external id); "
            "a new event's `user_traits` are merged into the user's traits in item order. "
            "The tenant is `tenant_id`, else the API key's tenant when it has exactly one, "
            "else `default`. Errors: 400 `invalid_payload` (not a JSON array), 400 "
            "`invalid_query`, 403 `tenant_forbidden`, 413 `too_many_events` (over 5,000 "
            "items), 413 `payload_too_large`; nothing is stored."
        ),
        parameters=[ProductEventQuerySerializer],
        request=ProductEventInputSerializer(many=True),
        responses={
            202: ProductEventBatchOutputSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            413: ErrorSerializer,
        },
        examples=[
            # drf-spectacular shows a list request's example as a list of this one item.
            OpenApiExample("one event", value=PRODUCT_EVENT_EXAMPLE, request_only=True),
            OpenApiExample(
                "stored",
                value={"accepted": 1, "duplicates": 0, "rejected": []},
                response_only=True,
                status_codes=["202"],
            ),
            OpenApiExample(
                "the second item without a timezone",
                value={
                    "accepted": 1,
                    "duplicates": 0,
                    "rejected": [
                        {
                            "index": 1,
                            "errors": {
                                "event_timestamp": [
                                    "The timestamp must carry a timezone, such as Z or +01:00."
                                ]
                            },
                        }
                    ],
                },
                response_only=True,
                status_codes=["202"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, list):
            raise ValidationError(
                [f"Send a JSON array of 0 to {MAX_PRODUCT_EVENTS:,} product events."]
            )
        tenant_id = _tenant(request)
        outcome = product_events_ingest(items=request.data, tenant_id=tenant_id)
        return Response(ProductEventBatchOutputSerializer(outcome).data, status=202)


def _tenant(request: Request) -> str:
    """Return the tenant the batch is for: asked for, the key's only one, or the default."""
    tenant_id = query_parse(ProductEventQuerySerializer, request).get("tenant_id")
    if tenant_id is None:
        allowed = tenants_allowed(key=request.auth)
        tenant_id = next(iter(allowed)) if allowed and len(allowed) == 1 else DEFAULT_TENANT
    tenant_access_check(key=request.auth, tenant_id=tenant_id)
    return tenant_id
