from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from midnite_test import views

# The schema and the docs are public: no API key is asked for, and a key sent is ignored.
OPEN = {"authentication_classes": [], "permission_classes": [AllowAny]}

# The admin's "View site" link, and the root of the service, lead to the operator console.
admin.site.site_url = "/console/"

urlpatterns = [
    path("", RedirectView.as_view(url="/console/"), name="root"),
    path("", include("users.urls")),
    path("", include("events.urls")),
    path("", include("alerts.urls")),
    path("", include("metrics.urls")),
    path("", include("notifications.urls")),
    path("", include("rule_sets.urls")),
    # The admin's pages of the app users moved to keep answering at their old address.
    re_path(
        r"^admin/events/user/(?P<rest>.*)$",
        RedirectView.as_view(url="/admin/users/user/%(rest)s", query_string=True),
    ),
    path("healthz/live", views.HealthLiveView.as_view(), name="health-live"),
    path("healthz/ready", views.HealthReadyView.as_view(), name="health-ready"),
    path("healthz/status", views.HealthStatusView.as_view(), name="health-status"),
    path("prometheus/metrics", views.PrometheusScrapeView.as_view(), name="prometheus-metrics"),
    path("health", views.HealthLiveView.as_view()),
    path("ready", views.HealthReadyView.as_view()),
    path("admin/", admin.site.urls),
    path("console/", include("console.urls")),
    path("api/schema/", SpectacularAPIView.as_view(**OPEN), name="api-schema"),
    path("docs/schema", SpectacularAPIView.as_view(**OPEN), name="openapi-schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi-schema", **OPEN), name="docs"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="openapi-schema", **OPEN)),
]

handler400 = "midnite_test.http_errors.bad_request"
# Under /console/, a console page; elsewhere the API's JSON, as handler400 and handler500.
handler404 = "console.not_found.not_found"
handler500 = "midnite_test.http_errors.server_error"
