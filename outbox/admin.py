from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, Q

from django.utils.safestring import SafeString

from midnite_test.admin import ReadOnlyModelAdmin, cut_with_title, utc_minute
from outbox.models import OutboxBatch, OutboxMessage
from outbox.services import DEAD_LETTERS_RETRY_PERMISSION, outbox_dead_letters_retry


def _shipped() -> Exists:
    """Whether a shipped batch's range holds the message (see OutboxBatch)."""
    xid, id = OuterRef("xid"), OuterRef("id")
    return Exists(
        OutboxBatch.objects.filter(consumer=OuterRef("consumer"), shipped_at__isnull=False)
        .filter(Q(first_xid__lt=xid) | Q(first_xid=xid, first_id__lte=id))
        .filter(Q(last_xid__gt=xid) | Q(last_xid=xid, last_id__gte=id))
    )


class DeadLetteredFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("dead", "dead-lettered"), ("unshipped", "waiting"), ("shipped", "shipped")]

    def queryset(self, request, queryset):
        if self.value() == "dead":
            return queryset.filter(dead_lettered_at__isnull=False)
        if self.value() == "unshipped":
            return queryset.filter(dead_lettered_at__isnull=True, shipped=False)
        if self.value() == "shipped":
            return queryset.filter(dead_lettered_at__isnull=True, shipped=True)
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyModelAdmin):
    """Outbox messages, dead letters first to hand: read-only but for re-queueing them.

    A message leaves the table when shipped and past retention, never by hand.
    """

    # The error cut short (whole in the title), the time short, the topic left to the filter:
    # "state" stays within a 1280 px window.
    list_display = ("id", "consumer", "subject_id", "created", "attempts", "state")
    list_filter = (DeadLetteredFilter, "consumer", "topic")
    search_fields = ("=id", "=subject_id", "last_error")
    actions = ["retry"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(shipped=_shipped())

    @admin.display(description="created at", ordering="created_at")
    def created(self, message: OutboxMessage) -> str:
        return utc_minute(message.created_at)

    @admin.display(description="state")
    def state(self, message: OutboxMessage) -> SafeString | str:
        if message.dead_lettered_at:
            return cut_with_title(f"dead-lettered: {message.last_error}", 28)
        if message.shipped:
            return "shipped"
        if not message.attempts:
            return "waiting"
        return cut_with_title(f"retrying: {message.last_error}", 28)

    def has_retry_permission(self, request) -> bool:
        """Re-queueing changes messages: staff who may only view them are not offered it."""
        return request.user.has_perm(DEAD_LETTERS_RETRY_PERMISSION)

    @admin.action(description="Re-queue the selected dead-lettered messages", permissions=["retry"])
    def retry(self, request, queryset) -> None:
        count = outbox_dead_letters_retry(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Re-queued {count} messages.", messages.SUCCESS)
