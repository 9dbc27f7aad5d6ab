"""The health probes: GET /healthz/live and GET /healthz/ready."""

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from midnite_test.health import readiness_check
from midnite_test.serializers import HealthSerializer, ReadinessSerializer


class HealthLiveView(APIView):
    """GET /healthz/live: the process is up."""

    # Probes answer without an API key, and are never throttled.
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(operation_id="health_live", responses={200: HealthSerializer})
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class HealthReadyView(APIView):
    """GET /healthz/ready: each dependency by name, the outbox backlog and what holds it back."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(
        operation_id="health_ready",
        description=(
            "503 when the database, the broker (when one is configured) or ClickHouse fails; "
            "`failed` names them. In embedded mode ClickHouse is judged by the worker's "
            "heartbeat. The outbox backlog, and the session of this database whose open "
            "transaction holds the outbox back, are reported, never a cause of 503."
        ),
        responses={200: ReadinessSerializer, 503: ReadinessSerializer},
    )
    def get(self, request: Request) -> Response:
        readiness = readiness_check()
        return Response(
            ReadinessSerializer(readiness).data, status=200 if not readiness.failed else 503
        )
