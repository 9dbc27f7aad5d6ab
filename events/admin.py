from django.contrib import admin

from events.models import Event
from django.utils.safestring import SafeString

from midnite_test.admin import ReadOnlyModelAdmin, cut_with_title, utc_minute


@admin.register(Event)
class EventAdmin(ReadOnlyModelAdmin):
    """Events are facts the API recorded: the admin shows them and never edits them."""

    # Long ids and types cut short (whole in the title), the time short: the last column stays
    # within a 1280 px window beside the admin's navigation and filters.
    list_display = (
        "id",
        "user_shown",
        "type_shown",
        "amount",
        "occurred",
        "alert_codes",
        "alert_rules_version",
    )
    list_filter = ("event_type", "source", "tenant_id")
    search_fields = ("event_id", "=user__id", "user__external_id")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    date_hierarchy = "occurred_at"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("alerts")

    @admin.display(description="user", ordering="user")
    def user_shown(self, event: Event) -> SafeString:
        return cut_with_title(str(event.user), 12)

    @admin.display(description="event type", ordering="event_type")
    def type_shown(self, event: Event) -> SafeString:
        return cut_with_title(event.event_type, 16)

    @admin.display(description="occurred at", ordering="occurred_at")
    def occurred(self, event: Event) -> str:
        return utc_minute(event.occurred_at)

    @admin.display(description="alerts")
    def alert_codes(self, event: Event) -> str:
        return ", ".join(str(alert.code) for alert in event.alerts.all()) or "-"

    @admin.display(description="rules")
    def alert_rules_version(self, event: Event) -> str:
        """The version of the alert rules that raised its alerts (one version judges an event)."""
        versions = sorted({alert.rules_version for alert in event.alerts.all()})
        return ", ".join(str(version) for version in versions) or "-"
