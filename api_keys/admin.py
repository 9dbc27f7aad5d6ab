from django.conf import settings
from django.contrib import admin, messages

from api_keys.models import ApiKey
from api_keys.services import api_keys_revoke
from midnite_test.admin import ReadOnlyModelAdmin


class RevokedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "active"), ("revoked", "revoked")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyModelAdmin):
    """API keys, listed and revoked here.

    Keys are created with `manage.py create_api_key`, which prints the key once: the admin
    never sees a key, only its prefix.
    """

    list_display = ("name", "prefix", "tenant_list", "scope_list", "created_at", "revoked_at")
    list_filter = (RevokedFilter,)
    search_fields = ("name", "prefix")
    actions = ["revoke"]

    @admin.display(description="tenants")
    def tenant_list(self, key: ApiKey) -> str:
        return ", ".join(key.tenants) or "all"

    @admin.display(description="scopes")
    def scope_list(self, key: ApiKey) -> str:
        return ", ".join(key.scopes) or "-"

    def has_revoke_permission(self, request) -> bool:
        """Revoking changes a key: staff who may only view keys are not offered it."""
        return request.user.has_perm("api_keys.change_apikey")

    @admin.action(description="Revoke the selected API keys", permissions=["revoke"])
    def revoke(self, request, queryset) -> None:
        count = api_keys_revoke(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            f"Revoked {count} API keys; every process refuses them within "
            f"{settings.API_KEY_CACHE_SECONDS:g} s.",
            messages.SUCCESS,
        )
