from django.apps import AppConfig
from django.core import checks


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Imported here because the check loads the configuration, which needs settings.
        from notifications.checks import notification_config_check

        checks.register(notification_config_check)
