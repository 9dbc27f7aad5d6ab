"""The health probes, GET /healthz/live and /healthz/ready; the operators' GET /healthz/status;
Prometheus's GET /prometheus/metrics."""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import View
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api_keys.authentication import ApiKeyAuthentication
from api_keys.exceptions import TenantForbidden
from api_keys.permissions import is_staff_session
from api_keys.selectors import tenants_allowed
from midnite_test.exception_handler import error_body
from midnite_test.health import readiness_check, status_report
from midnite_test.negotiation import ProbeNegotiation
from midnite_test.prometheus import CONTENT_TYPE, scrape_registry, scrape_text
from midnite_test.prometheus_collectors import OutboxCollector
from midnite_test.serializers import (
    ErrorSerializer,
    HealthSerializer,
    NoQuerySerializer,
    ReadinessSerializer,
    StatusSerializer,
    query_parse,
)

# Why the probes, alone of the API's GETs, answer whatever query string they are sent.
PROBE_QUERY = (
    "Any query parameter, `format` and the Accept header are ignored: a probe with a "
    "cache-busting parameter that failed would take a healthy process out of rotation."
)


class HealthLiveView(APIView):
    """GET /healthz/live: the process is up."""

    # Probes answer without an API key, are never throttled, and take any query string.
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []
    content_negotiation_class = ProbeNegotiation

    @extend_schema(
        operation_id="health_live",
        description="200 while the process answers. " + PROBE_QUERY,
        responses={200: HealthSerializer},
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class HealthReadyView(APIView):
    """GET /healthz/ready: whether this process can serve, which is whether its database answers."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []
    content_negotiation_class = ProbeNegotiation

    @extend_schema(
        operation_id="health_ready",
        description=(
            "200 while this process's database answers, else 503. Nothing else: a broker or "
            "ClickHouse outage, a stale worker or a backlog never takes a web process out of "
            "rotation (requests still commit, and the outbox keeps what the worker owes). "
            "`GET /healthz/status` reports those. " + PROBE_QUERY
        ),
        responses={200: ReadinessSerializer, 503: ReadinessSerializer},
    )
    def get(self, request: Request) -> Response:
        readiness = readiness_check()
        return Response(
            ReadinessSerializer(readiness).data, status=200 if not readiness.failed else 503
        )


class EveryTenantKeyOrStaffSession(BasePermission):
    """Let through a key that acts on every tenant, a staff session, or anyone when anonymous.

    The status names internals (backlogs of every tenant, database sessions), so a key limited
    to tenants is 403. On-call engineers may read it in a browser logged in to /admin/.
    """

    def has_permission(self, request, view) -> bool:
        if request.auth is not None:
            if tenants_allowed(key=request.auth) is None:
                return True
            raise TenantForbidden("This API key is limited to tenants; the status is not.")
        if is_staff_session(request) or settings.ALLOW_ANONYMOUS:
            return True
        raise NotAuthenticated(
            "Send an API key (`Authorization: Bearer <key>`) or log in to /admin/ as staff."
        )


class HealthStatusView(APIView):
    """GET /healthz/status: each dependency, the outbox backlog and the worker's heartbeat."""

    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [EveryTenantKeyOrStaffSession]

    @extend_schema(
        operation_id="health_status",
        description=(
            "For operators: each dependency by name (`database`, `broker`: always `ok` under "
            "`make run`, which has none; `clickhouse`: a server is pinged, an embedded store "
            "is judged by the worker's heartbeat; `worker`: failed when no worker reported or "
            "its heartbeat is older than `CLICKHOUSE_HEARTBEAT_MAX_AGE_SECONDS`; `outbox`: "
            "failed while a consumer's claims have stopped), `failed` naming what failed "
            "(`status` `degraded`), the outbox backlog per consumer, the session of this database "
            "whose open transaction holds the outbox back, and the worker's last heartbeat "
            "with its age. Always 200 when it can answer. Needs an API key that acts on every "
            "tenant or a staff session of /admin/; a key limited to tenants is 403 "
            "`tenant_forbidden`. It takes no query parameter: one is 400 `invalid_query`."
        ),
        responses={200: StatusSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        query_parse(NoQuerySerializer, request)
        return Response(StatusSerializer(status_report()).data)


class PrometheusScrapeView(View):
    """GET /prometheus/metrics: every process's counters and the outbox's gauges, for Prometheus.

    Open when PROMETHEUS_SCRAPE_TOKEN is empty (serve it on a private network, as the health
    probes); else only to `Authorization: Bearer <token>`, 401 otherwise. Plain Django rather
    than DRF: it answers in Prometheus's text format, is not part of the API and has no
    throttle (Prometheus scrapes at its own pace).
    """

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest) -> HttpResponse:
        if not _scrape_token_matches(request.headers.get("Authorization", "")):
            body = error_body(
                code="not_authenticated",
                message="Send the scrape token: `Authorization: Bearer <PROMETHEUS_SCRAPE_TOKEN>`.",
            )
            response = JsonResponse(body, status=401)
            response["WWW-Authenticate"] = 'Bearer realm="prometheus"'
            return response
        text = scrape_text(scrape_registry(OutboxCollector()))
        return HttpResponse(text, content_type=CONTENT_TYPE)


def _scrape_token_matches(authorization: str) -> bool:
    token = settings.PROMETHEUS_SCRAPE_TOKEN
    if not token:
        return True
    return hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode())
