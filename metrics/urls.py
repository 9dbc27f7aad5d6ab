from django.urls import path

from metrics import views

urlpatterns = [
    path("metrics", views.MetricsView.as_view(), name="metrics"),
    path("metrics/", views.MetricsView.as_view()),
]
