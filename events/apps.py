from django.apps import AppConfig
from django.core import checks


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events and alerts"

    def ready(self) -> None:
        # Imported here because the check loads services, which need the app registry ready.
        from events.checks import alert_rules_check

        checks.register(alert_rules_check)
