"""The service's URLs plus a bare Django JSON view, the ceiling POST /event is measured against."""

import json

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def ceiling(request: HttpRequest) -> JsonResponse:
    """Parse the same body POST /event gets and answer without touching the database."""
    body = json.loads(request.body)
    return JsonResponse({"alert": False, "alert_codes": [], "user_id": body["user_id"]})


urlpatterns = [
    path("bench/ceiling", ceiling),
    path("", include("midnite_test.urls")),
]
