"""System checks of the notifications: the default rules file and the templates must load,
sends must fit their lease, and a deployment must deliver somewhere."""

from django.conf import settings
from django.core.checks import Error

from notifications.channels import delivery_seconds_max, email_transport_configured
from notifications.config import NotificationConfigError, notification_config_default


def notification_config_check(app_configs, **kwargs) -> list[Error]:
    """Report a bad default rules file or templates file as an error naming the file, the rule
    and the field."""
    try:
        notification_config_default()
    except NotificationConfigError as exc:
        return [Error(f"Invalid notification configuration: {exc}", id="notifications.E001")]
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
