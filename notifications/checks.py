"""System checks of the notifications: the default rules file and the templates must load,
the active rules must compile against the templates, sends must fit their lease, and a
deployment must deliver somewhere."""

from django.conf import settings
from django.core.checks import Error
from django.db import DatabaseError

from notifications.channels import delivery_seconds_max, email_transport_configured
from notifications.config import (
    NotificationConfigError,
    notification_config_default,
    notification_rule_set_compile,
)
from rule_sets.models import KIND_NOTIFICATIONS, RuleSetVersion
from rules.exceptions import RuleParseError


def notification_config_check(app_configs, **kwargs) -> list[Error]:
    """Report a bad default rules file or templates file as an error naming the file, the rule
    and the field."""
    try:
        notification_config_default()
    except NotificationConfigError as exc:
        return [Error(f"Invalid notification configuration: {exc}", id="notifications.E001")]
    return []


def notification_active_version_check(app_configs, databases=None, **kwargs) -> list[Error]:
    """Report an active version of the notification rules that the templates file no longer
    covers, naming the rule and the template, before a batch meets it (a database check: it
    runs in `migrate`, which the deployment runs before starting, `check --database default`,
    and the Celery worker's start-up).

    Nothing to report without a database, or before the rule sets' table is migrated.
    """
    if not databases:
        return []
    try:
        active = (
            RuleSetVersion.objects.filter(
                kind=KIND_NOTIFICATIONS, status=RuleSetVersion.Status.ACTIVE
            )
            .only("version", "source")
            .first()
        )
    except DatabaseError:
        return []
    if active is None:
        return []
    try:
        notification_rule_set_compile(active.source)
    except RuleParseError as exc:
        return [
            Error(
                f"The active notification rules (version {active.version}) do not compile "
                f"against the templates: {exc}",
                # Every manage.py command runs the checks first, `rules activate` included.
                hint="Restore the template in NOTIFICATION_TEMPLATES_PATH, or activate a "
                "version that compiles: `manage.py rules --skip-checks activate --kind "
                "notifications --version N`. The default rules file "
                "(NOTIFICATION_RULES_PATH) must compile against the templates too.",
                id="notifications.E004",
            )
        ]
    return []


def notification_lease_check(app_configs, **kwargs) -> list[Error]:
    """Report a send lease shorter than one delivery may take: a send would outlive its lease,
    and another worker would send the notification again."""
    lease = settings.NOTIFICATION_SEND_LEASE_SECONDS
    if lease >= delivery_seconds_max():
        return []
    return [
        Error(
            f"NOTIFICATION_SEND_LEASE_SECONDS ({lease}) is shorter than one delivery may take "
            f"({delivery_seconds_max():g} s: twice NOTIFICATION_WEBHOOK_TIMEOUT_SECONDS plus "
            "EMAIL_TIMEOUT).",
            hint="Raise the lease or lower the timeouts.",
            id="notifications.E002",
        )
    ]


def notification_delivery_check(app_configs, **kwargs) -> list[Error]:
    """A deployment check (`check --deploy`): with DEBUG off, notifications must be able to
    reach someone: an email transport or a webhook, unless the console was chosen."""
    configured = (
        email_transport_configured() or settings.SMS_WEBHOOK_URL or settings.INTERNAL_WEBHOOK_URL
    )
    if settings.DEBUG or settings.NOTIFICATION_CONSOLE_DELIVERY or configured:
        return []
    return [
        Error(
            "Notifications have nowhere to go: no email transport (EMAIL_HOST) and no webhook "
            "(SMS_WEBHOOK_URL, INTERNAL_WEBHOOK_URL) is configured.",
            hint="Configure them, or set NOTIFICATION_CONSOLE_DELIVERY=true to print "
            "notifications to the console and the log instead (as `make run` does).",
            id="notifications.E003",
        )
    ]
