"""The event store."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from outbox.models import CurrentTransactionId
from users.models import DEFAULT_TENANT, User

# The source of POST /event's deposits and withdraws, stored in DEFAULT_TENANT: the alert
# stream. Its latest `t` and its alert history are read from it alone (`event_stream_type_time`),
# so no other tenant or way in can move or feed them.
TRANSACTION_SOURCE = "transactions"
# The source of product events (POST /api/v1/events): the notifications read them alone.
PRODUCT_SOURCE = "product"


class Event(models.Model):
    """One thing a user did. `(tenant_id, event_id)` is the client's idempotency key."""

    tenant_id = models.CharField(max_length=128, default=DEFAULT_TENANT)
    event_id = models.CharField(max_length=128)
    # No index of its own: event_user_time and event_user_type_time lead with the user, and
    # serve every query by user alone (a user's events, the PROTECT check on deleting one).
    user = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,
    )
    event_type = models.CharField(max_length=64)
    source = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField()
    amount = models.DecimalField(max_digits=15, decimal_places=2, null=True, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    # The user's traits as merged when a product event was stored, so rules evaluated later
    # see the user as this event saw them; empty for events that carry no traits.
    # The database default lets raw inserts that predate this column leave it out.
    user_traits = models.JSONField(default=dict, blank=True, db_default={})
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    # A digest of the event's content (events.event_rows.content_digest), written with it: an
    # event sent again is told a duplicate by comparing digests, without reading the content
    # back. NULL for events stored before it or by other writers: those are compared field by
    # field, as is an event whose digest differs (the same content can be written otherwise).
    content_digest = models.BinaryField(null=True, editable=False)
    # The id of the transaction that stored the event (the database fills it in): the table is
    # the log its consumers read in (xid, id) order behind the commit horizon (events.log).
    xid = models.BigIntegerField(db_default=CurrentTransactionId(), editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant_id", "event_id"], name="event_unique_event_id"),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0), name="event_amount_positive"
            ),
        ]
        indexes = [
            # A user's events newest first, of every type or of one, are `ORDER BY occurred_at
            # DESC, id DESC LIMIT n` read backwards in index order: the id makes the order
            # whole, so no plan has to sort (a planner without statistics would sort them all).
            # Partial: every query of these names its user, and an event without one (an
            # anonymous product or web event) then costs neither index an entry.
            models.Index(
                fields=["user", "occurred_at", "id"],
                condition=Q(user__isnull=False),
                name="event_user_time",
            ),
            models.Index(
                fields=["user", "event_type", "occurred_at", "id"],
                condition=Q(user__isnull=False),
                name="event_user_type_time",
            ),
            # One backward scan per event type finds a user's latest transactions in (time,
            # id) order whatever the planner knows; partial, so other events don't pay for it.
            models.Index(
                fields=["user", "event_type", "occurred_at", "id"],
                condition=Q(tenant_id=DEFAULT_TENANT, source=TRANSACTION_SOURCE),
                name="event_stream_type_time",
            ),
            models.Index(fields=["tenant_id", "occurred_at", "id"], name="event_tenant_time"),
            models.Index(
                fields=["tenant_id", "source", "event_type", "occurred_at"],
                name="event_tenant_source_type_time",
            ),
            # The log's order: a consumer's claim reads the range after its cursor (events.log).
            models.Index(fields=["xid", "id"], name="event_log_order"),
            models.Index(
                fields=["xid", "id"],
                condition=Q(source=PRODUCT_SOURCE),
                name="event_product_log_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"
