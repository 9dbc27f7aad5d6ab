# The Alert model moves here from the events app with its table, events_alert: the state
# changes, the database does not (no SQL). events.0007 then drops it from the events app's
# state.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def _content_types_move(apps, schema_editor, *, old: str, new: str) -> None:
    """Relabel the ContentType rows, so permissions and admin log entries follow the model."""
    content_types = apps.get_model("contenttypes", "ContentType").objects.using(
        schema_editor.connection.alias
    )
    for model in ("alert",):
        if not content_types.filter(app_label=new, model=model).exists():
            content_types.filter(app_label=old, model=model).update(app_label=new)


def content_types_forwards(apps, schema_editor) -> None:
    _content_types_move(apps, schema_editor, old="events", new="alerts")


def content_types_backwards(apps, schema_editor) -> None:
    _content_types_move(apps, schema_editor, old="alerts", new="events")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("events", "0006_user_moved_to_users"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Alert",
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
                        ("code", models.PositiveIntegerField()),
                        (
                            "created_at",
                            models.DateTimeField(default=django.utils.timezone.now, editable=False),
                        ),
                        (
                            "event",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="alerts",
                                to="events.event",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "events_alert",
                        "ordering": ["event_id", "code"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("event", "code"), name="alert_unique_event_code"
                            )
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(content_types_forwards, content_types_backwards, elidable=False),
    ]
