"""Staff members of the admin who hold only some permissions, and what the admin offers them."""

from django.contrib.auth.models import Permission


def staff_client(client, django_user_model, app_label: str, *permissions: str):
    """Log `client` in as a staff user (not a superuser) holding only `permissions` of the app."""
    user = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label=app_label, codename__in=permissions)
    )
    client.force_login(user)
    return client


def offered_actions(response) -> set[str]:
    """The names of the actions a change list offers (none when its form is missing)."""
    form = response.context["action_form"]
    return {name for name, _ in form.fields["action"].choices} if form else set()
