"""The API's default permission: a valid API key, unless ALLOW_ANONYMOUS."""

from django.conf import settings
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission

from api_keys.models import ApiKey


class HasApiKey(BasePermission):
    """Let a request with a valid API key through; one without a key only when ALLOW_ANONYMOUS.

    Which tenants the request may act on is the views' business: `tenant_access_check`.
    """

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey) or settings.ALLOW_ANONYMOUS:
            return True
        raise NotAuthenticated("This endpoint needs an API key: `Authorization: Bearer <key>`.")
