from django.urls import path

from alerts import views

urlpatterns = [
    path("event", views.EventCreateView.as_view(), name="event-create"),
    path("event/", views.EventCreateView.as_view()),
]
