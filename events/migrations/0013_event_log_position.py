# The event table is the log its consumers read (issue 20): each event records the transaction
# that stored it, and the consumers' cursors start after the events stored before, which their
# outbox messages still carry.

from django.db import migrations, models

import outbox.models

# outbox.contracts' streams of the event logs (events.log), spelled out: a migration is frozen.
_STREAMS = ("analytics:events", "metrics:events", "notifications:product_events")


def cursors_after_existing_events(apps, schema_editor):
    Event = apps.get_model("events", "Event")
    OutboxCursor = apps.get_model("outbox", "OutboxCursor")
    last = Event.objects.order_by("-id").values_list("id", flat=True).first()
    if last is None:
        return  # no event yet: each cursor starts at the beginning when first claimed
    for stream in _STREAMS:
        OutboxCursor.objects.update_or_create(consumer=stream, defaults={"xid": 0, "id": last})


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0012_event_user_indexes_skip_events_without_a_user"),
        ("outbox", "0004_batch_rejections"),
    ]

    operations = [
        # The events stored before carry 0, a constant default PostgreSQL adds without
        # rewriting the table; the events stored from now on carry their transaction's id.
        migrations.AddField(
            model_name="event",
            name="xid",
            field=models.BigIntegerField(db_default=0, editable=False),
        ),
        migrations.AlterField(
            model_name="event",
            name="xid",
            field=models.BigIntegerField(
                db_default=outbox.models.CurrentTransactionId(), editable=False
            ),
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["xid", "id"], name="event_log_order"),
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(
                condition=models.Q(("source", "product")),
                fields=["xid", "id"],
                name="event_product_log_order",
            ),
        ),
        migrations.RunPython(cursors_after_existing_events, migrations.RunPython.noop),
    ]
