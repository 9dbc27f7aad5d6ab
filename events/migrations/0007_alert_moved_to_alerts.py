# Alert now lives in the alerts app (alerts.0001), with the same table: the events app
# forgets the model. State only, no SQL.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("alerts", "0001_initial"),
        ("events", "0006_user_moved_to_users"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="Alert")],
        ),
    ]
