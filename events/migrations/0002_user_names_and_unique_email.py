import django.db.models.functions.text
from django.db import migrations, models


def split_names(apps, schema_editor):
    """Keep what `name` held: its first word as first_name, the rest as last_name."""
    User = apps.get_model("events", "User")
    for user in User.objects.exclude(name=""):
        first, _, last = user.name.partition(" ")
        User.objects.filter(pk=user.pk).update(first_name=first[:150], last_name=last[:150])


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="first_name",
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.AddField(
            model_name="user",
            name="last_name",
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.RunPython(split_names, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="user",
            name="name",
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("email"),
                condition=models.Q(("email", ""), _negated=True),
                name="user_unique_email_ci",
                violation_error_message="A user with this email already exists.",
            ),
        ),
    ]
