"""The console's JSON endpoints, which its pages poll: staff sessions only, outside the API's
schema (they serve the pages, not integrations)."""

from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.overview import overview_json, overview_params, overview_report


class ConsoleApiView(APIView):
    """A console endpoint: an active staff user's session, no API key, never throttled (a page
    polls every few seconds). Anyone else gets 403 in the API's error shape."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAdminUser]
    throttle_classes = []


@extend_schema(exclude=True)
class OverviewApiView(ConsoleApiView):
    """GET /console/api/overview?tenant=&range=: what the overview page shows."""

    def get(self, request: Request) -> Response:
        tenant, chosen = overview_params(
            tenant=request.query_params.get("tenant"),
            range_name=request.query_params.get("range"),
        )
        return Response(overview_json(overview_report(tenant=tenant, chosen=chosen)))
