"""HTTP API of the events app. Views validate, call one service or selector, and serialize."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events.selectors import readiness_check
from events.serializers import (
    HealthSerializer,
    ReadinessSerializer,
    TransactionInputSerializer,
    TransactionOutputSerializer,
    UserOutputSerializer,
    UserRegisterInputSerializer,
)
from events.services import TransactionOutcome, transaction_ingest, user_register
from midnite_test.serializers import ErrorSerializer


class EventCreateView(APIView):
    """POST /event: store a deposit or withdraw and answer with the alerts it raises."""

    @extend_schema(
        operation_id="event_create",
        summary="Record a deposit or withdrawal and return its alert codes",
        description=(
            "`t` is whole seconds since the epoch, unique and strictly increasing per user. "
            "The exact same request sent again returns the stored answer. Errors: 400 "
            "`invalid_payload` (details name each bad field), 400 `unknown_user`, 400 "
            "`timestamp_out_of_order`, 409 `duplicate_timestamp`, 413 `payload_too_large` "
            "(over 64 KiB), 415 `unsupported_media_type`."
        ),
        request=TransactionInputSerializer,
        responses={
            200: TransactionOutputSerializer,
            400: ErrorSerializer,
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
        serializer = TransactionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        outcome = transaction_ingest(
            user_id=data["user_id"], event_type=data["type"], amount=data["amount"], t=data["t"]
        )
        return Response(TransactionOutputSerializer(_transaction_answer(outcome)).data)


def _transaction_answer(outcome: TransactionOutcome) -> dict:
    codes = list(outcome.alert_codes)
    return {"alert": bool(codes), "alert_codes": codes, "user_id": outcome.user_id}


class UserRegisterView(APIView):
    """POST /users: register a user and announce it to analytics."""

    @extend_schema(
        operation_id="user_register",
        summary="Register a user",
        description=(
            "Errors: 400 `invalid_payload` (details name each bad field), 409 `email_taken` "
            "(another user has this email in any letter case)."
        ),
        request=UserRegisterInputSerializer,
        responses={201: UserOutputSerializer, 400: ErrorSerializer, 409: ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = UserRegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_register(**serializer.validated_data)
        return Response(UserOutputSerializer(user).data, status=201)


class HealthLiveView(APIView):
    """GET /healthz/live: the process is up."""

    # Probes answer without an API key.
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(operation_id="health_live", responses={200: HealthSerializer})
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class HealthReadyView(APIView):
    """GET /healthz/ready: each dependency by name, and the outbox backlog."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="health_ready",
        description=(
            "503 when the database, the broker (when one is configured) or ClickHouse fails; "
            "`failed` names them. In embedded mode ClickHouse is judged by the worker's "
            "heartbeat. The outbox backlog is reported, never a cause of 503."
        ),
        responses={200: ReadinessSerializer, 503: ReadinessSerializer},
    )
    def get(self, request: Request) -> Response:
        readiness = readiness_check()
        return Response(
            ReadinessSerializer(readiness).data, status=200 if not readiness.failed else 503
        )
