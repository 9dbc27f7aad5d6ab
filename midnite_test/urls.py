from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", include("events.urls")),
    path("admin/", admin.site.urls),
    path("docs/schema", SpectacularAPIView.as_view(), name="openapi-schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="docs"),
]

handler400 = "midnite_test.http_errors.bad_request"
handler404 = "midnite_test.http_errors.not_found"
handler500 = "midnite_test.http_errors.server_error"
