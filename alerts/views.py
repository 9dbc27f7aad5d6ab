"""HTTP API of the alerts app: POST /event."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.serializers import (
    TransactionInputSerializer,
    TransactionOutputSerializer,
    transaction_answer,
    transaction_input_validate,
)
from alerts.services import transaction_ingest
from api_keys.services import tenant_access_check
from midnite_test.serializers import ErrorSerializer, NoQuerySerializer, query_parse
from users.models import DEFAULT_TENANT


class EventCreateView(APIView):
    """POST /event: store a deposit or withdraw and answer with the alerts it raises."""

    @extend_schema(
        operation_id="event_create",
        summary="Record a deposit or withdrawal and return its alert codes",
        description=(
            "`t` is whole seconds since the epoch, unique and strictly increasing per user. "
            "The exact same request sent again returns the stored answer. Errors: 400 "
            "`invalid_payload` (details name each bad field), 400 `invalid_query` (a query "
            "parameter: none is taken), 400 `unknown_user`, 400 "
            "`timestamp_out_of_order`, 403 `tenant_forbidden` (a key limited to other tenants: "
            "transactions are the `default` tenant's), 409 `duplicate_timestamp`, 413 "
            "`payload_too_large` "
            "(over 64 KiB), 415 `unsupported_media_type`."
        ),
        request=TransactionInputSerializer,
        responses={
            200: TransactionOutputSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            409: ErrorSerializer,
            413: ErrorSerializer,
            415: ErrorSerializer,
        },
        examples=[
            OpenApiExample(
                "deposit",
                value={"type": "deposit", "amount": "42.00", "user_id": 1, "t": 10},
                request_only=True,
            ),
            OpenApiExample(
                "alerts",
                value={"alert": True, "alert_codes": [30, 123], "user_id": 1},
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        query_parse(NoQuerySerializer, request)
        data = transaction_input_validate(request.data)
        tenant_access_check(key=request.auth, tenant_id=DEFAULT_TENANT)
        outcome = transaction_ingest(
            user_id=data["user_id"], event_type=data["type"], amount=data["amount"], t=data["t"]
        )
        return Response(transaction_answer(outcome))
