"""Who may read the audit trail: an API key, a staff session with the permission, or anyone
if anonymous."""

from django.conf import settings
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from api_keys.permissions import is_staff_session
from api_keys.selectors import tenants_allowed
from notifications.models import AUDIT_EVERY_TENANT

# As `User.has_perm` names it.
AUDIT_EVERY_TENANT_PERMISSION = f"notifications.{AUDIT_EVERY_TENANT}"


class ApiKeyOrStaffSession(BasePermission):
    """Let through a valid API key, a staff session allowed every tenant, or anyone when
    ALLOW_ANONYMOUS.

    `request.auth` is the API key: the session authentication sets none. A key reads the
    tenants it was issued for. A session names no tenant, so it reads every tenant, which
    being staff is not enough for: the user needs AUDIT_EVERY_TENANT_PERMISSION (superusers
    have every permission). With ALLOW_ANONYMOUS anyone reads every tenant anyway.

    On-call engineers open the audit page in a browser, which cannot send a Bearer key but
    carries the admin's session cookie.
    """

    def has_permission(self, request, view) -> bool:
        if request.auth is not None or settings.ALLOW_ANONYMOUS:
            return True
        if is_staff_session(request):
            if request.user.has_perm(AUDIT_EVERY_TENANT_PERMISSION):
                return True
            raise PermissionDenied(
                "Reading every tenant's audit trail needs the permission "
                f"{AUDIT_EVERY_TENANT_PERMISSION!r}; ask an administrator to grant it."
            )
        raise NotAuthenticated(
            "Send an API key (`Authorization: Bearer <key>`) or log in to /admin/ as staff."
        )


def tenants_readable(request: Request) -> frozenset[str] | None:
    """Return the tenants the request may read (None: every tenant); a session reads every one
    (ApiKeyOrStaffSession has checked its permission)."""
    if request.auth is None and is_staff_session(request):
        return None
    return tenants_allowed(key=request.auth)
