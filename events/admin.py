from django.contrib import admin

from events.models import Event, User
from events.services import user_save_new
from midnite_test.admin import ReadOnlyModelAdmin


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("id", "external_id", "first_name", "last_name", "email", "created_at")
    search_fields = ("=id", "external_id", "first_name", "last_name", "email")
    list_filter = ("created_at",)

    def save_model(self, request, obj: User, form, change: bool) -> None:
        # A new user is announced like every other: through the outbox, in its transaction.
        if change:
            super().save_model(request, obj, form, change)
        else:
            user_save_new(user=obj)


@admin.register(Event)
class EventAdmin(ReadOnlyModelAdmin):
    """Events are facts the API recorded: the admin shows them and never edits them."""

    list_display = ("id", "user", "event_type", "amount", "occurred_at", "alert_codes")
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
