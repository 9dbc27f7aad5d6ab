"""Who may read the audit trail: an API key, a staff admin session, or anyone if anonymous."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from api_keys.selectors import tenants_allowed


def is_staff_session(request: Request) -> bool:
    """Return whether the request comes from an active staff user's admin session."""
    user = request.user
    return isinstance(user, AbstractBaseUser) and user.is_active and user.is_staff


class ApiKeyOrStaffSession(BasePermission):
    """Let through a valid API key, a staff session, or anyone when ALLOW_ANONYMOUS.

    `request.auth` is the API key: the session authentication sets none.

    On-call engineers open the audit page in a browser, which cannot send a Bearer key but
    carries the admin's session cookie.
    """

    def has_permission(self, request, view) -> bool:
        if request.auth is not None or is_staff_session(request):
            return True
        if settings.ALLOW_ANONYMOUS:
            return True
        raise NotAuthenticated(
            "Send an API key (`Authorization: Bearer <key>`) or log in to /admin/ as staff."
        )


def tenants_readable(request: Request) -> frozenset[str] | None:
    """Return the tenants the request may read (None: every tenant); staff read every one."""
    if request.auth is None and is_staff_session(request):
        return None
    return tenants_allowed(key=request.auth)
