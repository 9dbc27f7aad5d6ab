from django.urls import path

from users import views

urlpatterns = [
    path("users", views.UserRegisterView.as_view(), name="user-register"),
    path("users/", views.UserRegisterView.as_view()),
]
