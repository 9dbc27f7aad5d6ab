"""Who may see the console: staff users, logged in through the console's login page."""

import functools
from collections.abc import Callable

from django.contrib.admin.views.decorators import staff_member_required
from django.urls import reverse_lazy
from django.views.csrf import csrf_failure as django_csrf_failure

from console.json_answers import json_error

LOGIN_URL = reverse_lazy("console:login")
# Where the JSON endpoints the pages poll live: a refusal there is JSON, not a page.
API_PATH = "/console/api/"


def console_staff_required(view: Callable) -> Callable:
    """Send anyone who is not an active staff user to the console's login page."""
    return staff_member_required(view, login_url=LOGIN_URL)


def console_api_staff_required(view: Callable) -> Callable:
    """Refuse anyone who is not an active staff user with a 403 in the API's error shape: a
    JSON endpoint a page polls, whose caller cannot follow a redirect to the login form."""

    @functools.wraps(view)
    def staff_only(request, *args, **kwargs):
        user = request.user
        if user.is_active and user.is_staff:
            return view(request, *args, **kwargs)
        if not user.is_authenticated:
            return json_error(
                code="not_authenticated",
                message="Log in to the console (/console/login/) as a staff user.",
                status=403,
            )
        return json_error(
            code="permission_denied", message="The console is for staff users.", status=403
        )

    return staff_only


def csrf_failure(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: a refused POST to a console JSON endpoint is a 403 in the API's error
    shape; anywhere else (a form: the login page, the admin) Django's page."""
    if request.path.startswith(API_PATH):
        return json_error(
            code="csrf_failed",
            message="Send the page's CSRF token (the csrftoken cookie, as X-CSRFToken).",
            status=403,
            details={"reason": reason},
        )
    return django_csrf_failure(request, reason=reason)
