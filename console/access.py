"""Who may see the console: staff users, logged in through the console's login page."""

from collections.abc import Callable

from django.contrib.admin.views.decorators import staff_member_required
from django.urls import reverse_lazy

LOGIN_URL = reverse_lazy("console:login")


def console_staff_required(view: Callable) -> Callable:
    """Send anyone who is not an active staff user to the console's login page."""
    return staff_member_required(view, login_url=LOGIN_URL)
