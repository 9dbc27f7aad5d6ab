from django.contrib import admin

from events.models import Event
from midnite_test.admin import ReadOnlyModelAdmin


@admin.register(Event)
class EventAdmin(ReadOnlyModelAdmin):
    """Events are facts the API recorded: the admin shows them and never edits them."""

    list_display = (
        "id",
        "user",
        "event_type",
        "amount",
        "occurred_at",
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

    @admin.display(description="alert codes")
    def alert_codes(self, event: Event) -> str:
        return ", ".join(str(alert.code) for alert in event.alerts.all()) or "-"

    @admin.display(description="alert rules version")
    def alert_rules_version(self, event: Event) -> str:
        """The version of the alert rules that raised its alerts (one version judges an event)."""
        versions = sorted({alert.rules_version for alert in event.alerts.all()})
        return ", ".join(str(version) for version in versions) or "-"
