from django.apps import AppConfig
from django.core import checks


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Transactions and alerts"

    def ready(self) -> None:
        # Imported here because the check loads services, which need the app registry ready.
        from alerts.checks import alert_rules_check, fast_path_middleware_check

        checks.register(alert_rules_check)
        checks.register(fast_path_middleware_check)
