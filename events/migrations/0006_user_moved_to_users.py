# User now lives in the users app (users.0001), with the same table: Event.user points there
# and the events app forgets the model. State only, no SQL.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0005_event_user_traits"),
        ("notifications", "0002_user_moved_to_users"),
        ("users", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="event",
                    name="user",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="events",
                        to="users.user",
                    ),
                ),
                migrations.DeleteModel(name="User"),
            ],
        ),
    ]
