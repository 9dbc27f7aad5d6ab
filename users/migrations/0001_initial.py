# The User model moves here from the events app with its table, events_user: the state
# changes, the database does not (no SQL). events.0006 then drops it from the events app's
# state, after every foreign key to it points here.

import django.db.models.functions.text
import django.utils.timezone
from django.db import migrations, models


def _content_types_move(apps, schema_editor, *, old: str, new: str) -> None:
    """Relabel the ContentType rows, so permissions and admin log entries follow the model."""
    content_types = apps.get_model("contenttypes", "ContentType").objects.using(
        schema_editor.connection.alias
    )
    for model in ("user",):
        if not content_types.filter(app_label=new, model=model).exists():
            content_types.filter(app_label=old, model=model).update(app_label=new)


def content_types_forwards(apps, schema_editor) -> None:
    _content_types_move(apps, schema_editor, old="events", new="users")


def content_types_backwards(apps, schema_editor) -> None:
    _content_types_move(apps, schema_editor, old="users", new="events")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("events", "0005_event_user_traits"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="User",
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
                        (
                            "external_id",
                            models.CharField(blank=True, max_length=128, null=True, unique=True),
                        ),
                        ("first_name", models.CharField(blank=True, max_length=150)),
                        ("last_name", models.CharField(blank=True, max_length=150)),
                        ("email", models.EmailField(blank=True, max_length=254)),
                        ("traits", models.JSONField(blank=True, default=dict)),
                        (
                            "created_at",
                            models.DateTimeField(default=django.utils.timezone.now, editable=False),
                        ),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        "verbose_name": "app user",
                        "verbose_name_plural": "app users",
                        "db_table": "events_user",
                        "ordering": ["id"],
                        "constraints": [
                            models.UniqueConstraint(
                                django.db.models.functions.text.Lower("email"),
                                condition=models.Q(("email", ""), _negated=True),
                                name="user_unique_email_ci",
                                violation_error_message="A user with this email already exists.",
                            )
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(content_types_forwards, content_types_backwards, elidable=False),
    ]
