from django.apps import AppConfig
from django.core import checks


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Transactions and alerts"

    def ready(self) -> None:
        # Imported here because the check loads services, which need the app registry ready.
        from alerts.analytics import ALERT_LOG_ROWS_SQL, alert_records_load
        from alerts.checks import alert_rules_check, fast_path_middleware_check
        from events.log import EVENT_LOG
        from outbox.services import analytics_log_rows_register

        checks.register(alert_rules_check)
        checks.register(fast_path_middleware_check)
        analytics_log_rows_register(
            log=EVENT_LOG, sql=ALERT_LOG_ROWS_SQL, loader=alert_records_load
        )
