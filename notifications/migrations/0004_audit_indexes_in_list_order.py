# The audit reads its lists newest first in index order (issue 17): the indexes end with the id
# that breaks ties, and the notification history's leaves out what it never shows.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0008_metricbucket_moved_to_metrics"),
        ("notifications", "0003_audit_every_tenant_permission"),
        ("users", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="decision",
            name="decision_user_created",
        ),
        migrations.RemoveIndex(
            model_name="notification",
            name="notification_user_created",
        ),
        migrations.AddIndex(
            model_name="decision",
            index=models.Index(
                fields=["user", "created_at", "id"], name="decision_user_created_id"
            ),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("status", "not_matched"), _negated=True),
                fields=["user", "created_at", "id"],
                name="notification_user_history",
            ),
        ),
    ]
