from django.urls import path

from notifications import views

urlpatterns = [
    path("audit/<str:user_id>", views.UserAuditView.as_view(), name="user-audit"),
]
