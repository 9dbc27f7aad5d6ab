"""The API's permissions: a valid API key unless ALLOW_ANONYMOUS; a key's scope or staff."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from api_keys.exceptions import ScopeForbidden
from api_keys.models import ApiKey


class HasApiKey(BasePermission):
    """Let a request with a valid API key through; one without a key only when ALLOW_ANONYMOUS.

    Which tenants the request may act on is the views' business: `tenant_access_check`.
    """

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey) or settings.ALLOW_ANONYMOUS:
            return True
        raise NotAuthenticated("This endpoint needs an API key: `Authorization: Bearer <key>`.")


def is_staff_session(request: Request) -> bool:
    """Return whether the request comes from an active staff user's admin session."""
    user = request.user
    return isinstance(user, AbstractBaseUser) and user.is_active and user.is_staff


class ScopedKeyOrStaffSession(BasePermission):
    """Let through a key with the view's `required_scope`, a staff session, or anyone when
    ALLOW_ANONYMOUS.

    A key is judged by its own scopes, with ALLOW_ANONYMOUS too: one without the scope is 403
    `scope_forbidden`. A staff session reads; to write (any method but GET, HEAD, OPTIONS) its
    user needs the view's `staff_write_permission` too (superusers have every permission),
    as the admin asks of them. The view's authentication classes must include the session's.
    """

    def has_permission(self, request, view) -> bool:
        scope = view.required_scope
        if request.auth is not None:
            if scope in request.auth.scopes:
                return True
            raise ScopeForbidden(
                f"This API key lacks the {scope!r} scope (`create_api_key --scope {scope}`).",
                details={"scope": scope},
            )
        if is_staff_session(request):
            permission = view.staff_write_permission
            if request.method in SAFE_METHODS or request.user.has_perm(permission):
                return True
            raise PermissionDenied(f"This change needs the permission {permission!r}.")
        if settings.ALLOW_ANONYMOUS:
            return True
        raise NotAuthenticated(
            f"Send an API key with the {scope!r} scope (`Authorization: Bearer <key>`) or "
            "log in to /admin/ as staff."
        )
