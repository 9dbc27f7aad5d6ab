"""HTTP API of the notifications app. Views validate, call one selector, and serialize."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api_keys.authentication import ApiKeyAuthentication
from midnite_test.renderers import JSONRenderer
from midnite_test.serializers import ErrorSerializer, query_parse
from notifications.permissions import ApiKeyOrStaffSession, tenants_readable
from notifications.renderers import AuditPageRenderer
from notifications.selectors import user_audit
from notifications.serializers import AuditQuerySerializer, UserAuditSerializer

AUDIT_EXAMPLE = {
    "id": 7,
    "user_id": "u_12345",
    "traits": {"timezone": "Europe/London"},
    "recent_events": [
        {
            "event_id": "evt_2",
            "event_type": "payment_failed",
            "event_timestamp": "2025-10-31T19:30:00Z",
            "properties": {"reason": "insufficient_funds"},
        }
    ],
    "notification_history": [
        {
            "notification_type": "INSUFFICIENT_FUNDS_EMAIL",
            "channel": "email",
            "trigger_event": "evt_2",
            "status": "suppressed",
            "created_at": "2025-10-31T19:30:01Z",
            "sent_at": None,
            "suppression_reason": (
                "skipped INSUFFICIENT_FUNDS_EMAIL: already scheduled or sent 1 of 1 today"
                " (2025-10-31, UTC)"
            ),
            "rules_version": 3,
        }
    ],
    "decisions": [
        {
            "rule": "insufficient_funds",
            "notification_type": "INSUFFICIENT_FUNDS_EMAIL",
            "trigger_event": "evt_2",
            "status": "suppressed",
            "reason": (
                "skipped INSUFFICIENT_FUNDS_EMAIL: already scheduled or sent 1 of 1 today"
                " (2025-10-31, UTC)"
            ),
            "created_at": "2025-10-31T19:30:01Z",
            "rules_version": 3,
        }
    ],
}


class UserAuditView(APIView):
    """GET /audit/<user_id>: a user's events, notifications and decisions; JSON or a live page."""

    # A browser carries the admin's session cookie, not a key; staff with the permission read
    # every tenant.
    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [ApiKeyOrStaffSession]
    # JSON first: it is the answer to `Accept: */*` and to no Accept header at all.
    renderer_classes = [JSONRenderer, AuditPageRenderer]

    @extend_schema(
        operation_id="user_audit",
        summary="A user's audit trail: events, notifications and every decision, newest first",
        description=(
            "`user_id` is the user's external id (`u_12345`); a path of digits that is "
            "nobody's external id names the user by primary key. Each list holds at most "
            "`limit` entries, newest first. With `Accept: text/html` (a browser) the answer is "
            "a page that polls this JSON every second, so new events and decisions appear "
            "without a reload. A key limited to tenants sees only those tenants' events, "
            "the notifications and decisions they triggered, and the traits as the newest of "
            "those events carried them; an internal alert's delivery is shown without its "
            "recipients; a user with no event in them is 404. A staff member logged in to "
            "/admin/ with the permission `notifications.view_every_tenant_audit` reads every "
            "tenant. Errors: 400 `invalid_query` (details name the parameter), 401 "
            "`not_authenticated`, 403 `permission_denied` (staff without that permission), "
            "404 `user_not_found`."
        ),
        parameters=[
            AuditQuerySerializer,
            OpenApiParameter(
                "user_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="External id."
            ),
        ],
        responses={
            (200, "application/json"): UserAuditSerializer,
            (200, "text/html"): OpenApiTypes.STR,
            (400, "application/json"): ErrorSerializer,
            (403, "application/json"): ErrorSerializer,
            (404, "application/json"): ErrorSerializer,
        },
        examples=[OpenApiExample("a suppressed email", value=AUDIT_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, user_id: str) -> Response:
        query = query_parse(AuditQuerySerializer, request)
        audit = user_audit(user=user_id, limit=query["limit"], tenants=tenants_readable(request))
        return Response(UserAuditSerializer(audit).data)
