"""Batches become ranges of messages in (xid, id) order; messages lose their batch column.

Existing messages are placed at xid 0, in id order, behind each consumer's new cursor, and
grouped into batches that keep their state: runs of shipped messages become shipped batches
(retention purges them as before), runs of the others become batches due now (an unshipped
batch's retry count starts again). New messages carry their transaction's id (PostgreSQL) or
come after the cursor in id order (SQLite).
"""

from django.db import migrations, models
from django.utils import timezone

import outbox.models

RUN_LIMIT = 10_000


def messages_to_ranges(apps, schema_editor):
    Message = apps.get_model("outbox", "OutboxMessage")
    Batch = apps.get_model("outbox", "OutboxBatch")
    Cursor = apps.get_model("outbox", "OutboxCursor")
    shipped_at = dict(
        Batch.objects.filter(shipped_at__isnull=False).values_list("pk", "shipped_at")
    )
    old_batches = list(Batch.objects.values_list("pk", flat=True))
    Message.objects.update(xid=0)
    new_batches = []
    for consumer in Message.objects.values_list("consumer", flat=True).distinct():
        rows = (
            Message.objects.filter(consumer=consumer)
            .order_by("id")
            .values_list("id", "created_at", "batch_id", "dead_lettered_at")
        )
        run, run_shipped_at = [], None
        for id, created_at, batch_id, dead_lettered_at in rows.iterator(chunk_size=RUN_LIMIT):
            if dead_lettered_at is not None:
                continue  # in no batch's messages, whatever range holds it
            state = shipped_at.get(batch_id)
            if run and ((state is None) != (run_shipped_at is None) or len(run) == RUN_LIMIT):
                new_batches.append(_batch(Batch, consumer, run, run_shipped_at))
                run = []
            if not run:
                run_shipped_at = state
            run.append((id, created_at))
        if run:
            new_batches.append(_batch(Batch, consumer, run, run_shipped_at))
        last_id = Message.objects.filter(consumer=consumer).aggregate(m=models.Max("id"))["m"]
        Cursor.objects.create(consumer=consumer, xid=0, id=last_id)
    Batch.objects.filter(pk__in=old_batches).delete()
    Batch.objects.bulk_create(new_batches, batch_size=1_000)


def ranges_to_messages(apps, schema_editor):
    """Going back: give every message of a batch's range that batch's id again."""
    Message = apps.get_model("outbox", "OutboxMessage")
    Batch = apps.get_model("outbox", "OutboxBatch")
    for batch in Batch.objects.all():
        Message.objects.filter(
            models.Q(xid__gt=batch.first_xid)
            | models.Q(xid=batch.first_xid, id__gte=batch.first_id),
            models.Q(xid__lt=batch.last_xid) | models.Q(xid=batch.last_xid, id__lte=batch.last_id),
            consumer=batch.consumer,
            dead_lettered_at__isnull=True,
        ).update(batch=batch)


def _batch(Batch, consumer, run, shipped_at):
    now = timezone.now()
    return Batch(
        consumer=consumer,
        first_xid=0,
        first_id=run[0][0],
        last_xid=0,
        last_id=run[-1][0],
        size=len(run),
        oldest_at=min(created_at for _, created_at in run),
        attempts=0 if shipped_at is None else 1,
        next_attempt_at=now,
        shipped_at=shipped_at,
    )


class Migration(migrations.Migration):

    dependencies = [
        ("outbox", "0002_drop_duplicate_batch_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboxmessage",
            name="xid",
            field=models.BigIntegerField(
                db_default=outbox.models.CurrentTransactionId(), editable=False
            ),
        ),
        migrations.AddField(
            model_name="outboxbatch",
            name="first_xid",
            field=models.BigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="outboxbatch",
            name="first_id",
            field=models.BigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="outboxbatch",
            name="last_xid",
            field=models.BigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="outboxbatch",
            name="last_id",
            field=models.BigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="outboxbatch",
            name="size",
            field=models.PositiveIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="outboxbatch",
            name="oldest_at",
            field=models.DateTimeField(default=timezone.now),
            preserve_default=False,
        ),
        migrations.CreateModel(
            name="OutboxCursor",
            fields=[
                (
                    "consumer",
                    models.CharField(max_length=32, primary_key=True, serialize=False),
                ),
                ("xid", models.BigIntegerField(default=0)),
                ("id", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(messages_to_ranges, ranges_to_messages, elidable=True),
        migrations.RemoveIndex(
            model_name="outboxmessage",
            name="outbox_message_unclaimed",
        ),
        migrations.RemoveField(
            model_name="outboxmessage",
            name="batch",
        ),
        migrations.AddIndex(
            model_name="outboxmessage",
            index=models.Index(fields=["consumer", "xid", "id"], name="outbox_message_order"),
        ),
    ]
