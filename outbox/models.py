"""The outbox: durable messages written in the domain transaction, shipped by workers."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxBatch(models.Model):
    """A fixed set of messages shipped together, committed before the first attempt.

    Its id is the ClickHouse insert deduplication token: a batch retried after a crash
    re-sends the same messages under the same token, so ClickHouse keeps them once. A message
    counts as shipped when its batch has `shipped_at`; marking the batch marks all of them in
    one row write.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    consumer = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    shipped_at = models.DateTimeField(null=True, blank=True)

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


class OutboxMessage(models.Model):
    """One thing one consumer must react to.

    A message about a stored row (an event) carries its id in `subject_id`; a message about
    something with no row of its own carries `payload`.
    """

    consumer = models.CharField(max_length=32)
    topic = models.CharField(max_length=64)
    subject_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # No database constraint: batches are deleted after their messages, in bulk, by retention.
    batch = models.ForeignKey(
        OutboxBatch,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="messages",
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    dead_lettered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["consumer", "id"],
                condition=Q(batch__isnull=True, dead_lettered_at__isnull=True),
                name="outbox_message_unclaimed",
            ),
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

    In embedded mode only the worker may open ClickHouse, so readiness reads its heartbeat.
    """

    CLICKHOUSE = "clickhouse"

    name = models.CharField(max_length=64, primary_key=True)
    checked_at = models.DateTimeField()
    ok = models.BooleanField()
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.name} {'ok' if self.ok else 'failed'} at {self.checked_at}"
