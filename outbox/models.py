"""The outbox: durable messages written in the domain transaction, shipped by workers."""

import uuid

from django.db import models
from django.db.models import Func, Q
from django.utils import timezone


class CurrentTransactionId(Func):
    """The writing transaction's id on PostgreSQL (`pg_current_xact_id()`, as bigint); 0 elsewhere.

    Messages are consumed in (transaction id, id) order: see OutboxMessage.xid. SQLite runs one
    writing transaction at a time, so there id order is already commit order and 0 will do.
    """

    template = "(pg_current_xact_id()::text::bigint)"
    output_field = models.BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return "0", []


class OutboxBatch(models.Model):
    """A fixed range of one consumer's messages, shipped together, committed before any attempt.

    The batch holds the messages of `consumer` from (`first_xid`, `first_id`) to (`last_xid`,
    `last_id`), both included, in (xid, id) order, but the dead-lettered: a claim writes this
    one row, not one per message. Its ClickHouse insert deduplication token is derived from
    the range and its rows (outbox.relay.batch_token): a batch retried after a crash, a bisected
    half or a re-queued dead letter re-sends the same rows under the same token, so ClickHouse
    keeps them once. A message counts as shipped when its batch has `shipped_at`.

    `attempts` counts every failed attempt and `rejections` those ClickHouse refused for the
    rows themselves: only rejections bisect the batch towards a poison message, an outage
    (ClickHouse down, too many parts, a proxy's 502) only backs off.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    consumer = models.CharField(max_length=32)
    first_xid = models.BigIntegerField()
    first_id = models.BigIntegerField()
    last_xid = models.BigIntegerField()
    last_id = models.BigIntegerField()
    size = models.PositiveIntegerField()
    # When the oldest of its messages was published: the relay's lag, the backlog's age.
    oldest_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    attempts = models.PositiveIntegerField(default=0)
    rejections = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # When the batch is next due: after a failure, its backoff; while a relay ships it, the end
    # of that relay's lease (outbox.batches.batch_lease_next_due).
    next_attempt_at = models.DateTimeField(default=timezone.now)
    shipped_at = models.DateTimeField(null=True, blank=True)
    # Not stored: the least and greatest id of its messages, when the claim that made this
    # instance read them (outbox.batches.batch_take on PostgreSQL), so a render need not.
    entry_ids: tuple[int, int] | None = None

    class Meta:
        indexes = [
            models.Index(
                fields=["consumer", "next_attempt_at"],
                condition=Q(shipped_at__isnull=True),
                name="outbox_batch_due",
            ),
            models.Index(
                fields=["shipped_at"],
                condition=Q(shipped_at__isnull=False),
                name="outbox_batch_shipped",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.consumer} batch {self.id}"


class OutboxCursor(models.Model):
    """Where a consumer's last claimed range ended: the next claim starts after it.

    Its row lock serialises the claims of one consumer; a claim holds it for milliseconds.
    """

    consumer = models.CharField(max_length=32, primary_key=True)
    xid = models.BigIntegerField(default=0)
    id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.consumer} claimed up to ({self.xid}, {self.id})"


class OutboxMessage(models.Model):
    """One thing one consumer must react to.

    A message about a stored row (an event) carries its id in `subject_id`; a message about
    something with no row of its own carries `payload`.

    `xid` is the id of the transaction that wrote it (the database fills it in). Ids are drawn
    from a sequence before commit, so transactions commit out of id order; but below the oldest
    transaction still running that can write in this database (a session of this database, or
    any the claim cannot place in another database: `outbox.horizon`), every transaction that
    could write a message has ended, so none can appear below that horizon. Claims therefore
    take ranges in (xid, id) order, only below the horizon, and never look back.
    """

    consumer = models.CharField(max_length=32)
    topic = models.CharField(max_length=64)
    subject_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    xid = models.BigIntegerField(db_default=CurrentTransactionId(), editable=False)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    dead_lettered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["consumer", "xid", "id"], name="outbox_message_order"),
            models.Index(
                fields=["consumer", "id"],
                condition=Q(dead_lettered_at__isnull=False),
                name="outbox_message_dead",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(subject_id__isnull=False) | Q(payload__isnull=False),
                name="outbox_message_has_subject_or_payload",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.consumer} {self.topic} #{self.pk}"


class WorkerHeartbeat(models.Model):
    """What a worker last saw of a dependency the web processes cannot reach themselves.

    In embedded mode only the worker may open ClickHouse, so /healthz/status reads its heartbeat.
    """

    CLICKHOUSE = "clickhouse"

    name = models.CharField(max_length=64, primary_key=True)
    checked_at = models.DateTimeField()
    ok = models.BooleanField()
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.name} {'ok' if self.ok else 'failed'} at {self.checked_at}"
