from django.urls import path

from events import product_views, views

urlpatterns = [
    path("events", views.EventsView.as_view(), name="events"),
    path("events/", views.EventsView.as_view()),
    path("events/bulk", views.EventBulkIngestView.as_view(), name="events-bulk"),
    path("events/bulk/", views.EventBulkIngestView.as_view()),
    path(
        "api/v1/events",
        product_views.ProductEventIngestView.as_view(),
        name="product-events-ingest",
    ),
    path("api/v1/events/", product_views.ProductEventIngestView.as_view()),
    path("healthz/live", views.HealthLiveView.as_view(), name="health-live"),
    path("healthz/ready", views.HealthReadyView.as_view(), name="health-ready"),
    path("health", views.HealthLiveView.as_view()),
    path("ready", views.HealthReadyView.as_view()),
]
