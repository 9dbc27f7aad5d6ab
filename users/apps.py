from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"
    # Told apart in the admin from Django's "Users", the staff who log in to it.
    verbose_name = "App users"
