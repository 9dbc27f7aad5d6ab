# A digest of each event's content, written with it (issue 20): a re-sent event is told a
# duplicate without reading its content back. No backfill: an event without one (NULL) is
# compared field by field, as before, and adding a nullable column rewrites no row.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0013_event_log_position"),
    ]

    operations = [
        migrations.AddField(
            model_name="event",
            name="content_digest",
            field=models.BinaryField(editable=False, null=True),
        ),
    ]
