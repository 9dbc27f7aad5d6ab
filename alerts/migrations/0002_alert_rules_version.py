# Each alert records the version of the alert rules that raised it (issue 18). The alerts
# stored before were raised under the default rules file, which migrate imports as version 1.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("alerts", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="alert",
            name="rules_version",
            field=models.PositiveIntegerField(default=1),
            preserve_default=False,
        ),
    ]
