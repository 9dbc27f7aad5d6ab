# Reading every tenant's audit trail through a staff session needs this permission (issue 17).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("notifications", "0002_user_moved_to_users"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="notification",
            options={
                "permissions": [("view_every_tenant_audit", "Can read every tenant's audit trail")]
            },
        ),
    ]
