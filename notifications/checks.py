"""System checks: the notification rules and templates must load, at start-up and in `check`."""

from django.core.checks import Error

from notifications.config import NotificationConfigError, notification_config


def notification_config_check(app_configs, **kwargs) -> list[Error]:
    """Report a bad rules or templates file as an error naming the file, the rule and the field."""
    try:
        notification_config()
    except NotificationConfigError as exc:
        return [Error(f"Invalid notification configuration: {exc}", id="notifications.E001")]
    return []
