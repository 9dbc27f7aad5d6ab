from django.urls import path

from events import views
from events.product import views as product_views

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
]
