from django.contrib import admin

from midnite_test.admin import ReadOnlyModelAdmin
from notifications.models import Decision, Notification


class DecisionInline(admin.TabularInline):
    model = Decision
    fields = ("created_at", "status", "reason", "rules_version")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("created_at", "id")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyModelAdmin):
    """What the rules decided and where delivery stands; each decision is listed below it."""

    list_display = (
        "id",
        "user",
        "notification_type",
        "channel",
        "status",
        "reason",
        "rules_version",
        "created_at",
    )
    list_filter = ("status", "notification_type", "channel", "private", "rules_version")
    search_fields = ("=user__id", "user__external_id", "trigger_event__event_id")
    list_select_related = ("user",)
    raw_id_fields = ("user", "trigger_event")
    date_hierarchy = "created_at"
    inlines = (DecisionInline,)
