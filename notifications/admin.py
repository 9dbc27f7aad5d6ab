from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import SafeString

from midnite_test.admin import ReadOnlyModelAdmin, cut_with_title, utc_minute
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

    # Long ids and types are cut short (whole in the title), the reason is the status's title
    # (and on the notification's page), the channel is left to the filter, the time is short:
    # so that "Created at" stays within a 1280 px window beside the navigation and filters.
    list_display = ("id", "user_shown", "type_shown", "status_shown", "rules_version", "created")
    list_filter = ("status", "notification_type", "channel", "private", "rules_version")
    search_fields = ("=user__id", "user__external_id", "trigger_event__event_id")
    list_select_related = ("user",)
    raw_id_fields = ("user", "trigger_event")
    date_hierarchy = "created_at"
    inlines = (DecisionInline,)

    @admin.display(description="user", ordering="user")
    def user_shown(self, notification: Notification) -> SafeString:
        return cut_with_title(str(notification.user), 12)

    @admin.display(description="notification type", ordering="notification_type")
    def type_shown(self, notification: Notification) -> SafeString:
        return cut_with_title(notification.notification_type, 16)

    @admin.display(description="status", ordering="status")
    def status_shown(self, notification: Notification) -> SafeString:
        return format_html(
            '<span title="{}">{}</span>',
            notification.reason or notification.last_error,
            notification.get_status_display(),
        )

    @admin.display(description="created at", ordering="created_at")
    def created(self, notification: Notification) -> str:
        return utc_minute(notification.created_at)
