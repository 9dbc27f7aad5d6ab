# The MetricBucket model moves here from the events app with its table, events_metricbucket:
# the state changes, the database does not (no SQL). events.0008 then drops it from the events
# app's state.

from django.db import migrations, models


def _content_types_move(apps, schema_editor, *, old: str, new: str) -> None:
    """Relabel the ContentType rows, so permissions and admin log entries follow the model."""
    content_types = apps.get_model("contenttypes", "ContentType").objects.using(
        schema_editor.connection.alias
    )
    for model in ("metricbucket",):
        if not content_types.filter(app_label=new, model=model).exists():
            content_types.filter(app_label=old, model=model).update(app_label=new)


def content_types_forwards(apps, schema_editor) -> None:
    _content_types_move(apps, schema_editor, old="events", new="metrics")


def content_types_backwards(apps, schema_editor) -> None:
    _content_types_move(apps, schema_editor, old="metrics", new="events")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("events", "0007_alert_moved_to_alerts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="MetricBucket",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("tenant_id", models.CharField(max_length=128)),
                        (
                            "bucket_size",
                            models.CharField(
                                choices=[("minute", "Minute"), ("hour", "Hour"), ("day", "Day")],
                                max_length=8,
                            ),
                        ),
                        ("bucket_start", models.DateTimeField()),
                        ("source", models.CharField(blank=True, max_length=64)),
                        ("event_type", models.CharField(max_length=64)),
                        ("count", models.BigIntegerField(default=0)),
                        (
                            "amount_sum",
                            models.DecimalField(decimal_places=2, default=0, max_digits=24),
                        ),
                    ],
                    options={
                        "db_table": "events_metricbucket",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=(
                                    "tenant_id",
                                    "bucket_size",
                                    "bucket_start",
                                    "source",
                                    "event_type",
                                ),
                                name="metric_bucket_unique",
                            )
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(content_types_forwards, content_types_backwards, elidable=False),
    ]
