# Each notification and each decision records the version of the notification rules it was
# decided under (issue 18). Those stored before were decided under the default rules file,
# which migrate imports as version 1.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("notifications", "0004_audit_indexes_in_list_order"),
    ]

    operations = [
        migrations.AddField(
            model_name="decision",
            name="rules_version",
            field=models.PositiveIntegerField(default=1),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="notification",
            name="rules_version",
            field=models.PositiveIntegerField(default=1),
            preserve_default=False,
        ),
    ]
