# MetricBucket now lives in the metrics app (metrics.0001), with the same table: the events
# app forgets the model. State only, no SQL.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0007_alert_moved_to_alerts"),
        ("metrics", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="MetricBucket")],
        ),
    ]
