from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Transactions and alerts"

    def ready(self) -> None:
        # Imported here because the check loads services, which need the app registry ready.
        from alerts.analytics import ALERT_LOG_ROWS_SQL, alert_records_load
        from alerts.backtest import alerts_replay
        from alerts.checks import alert_rules_check, fast_path_middleware_check
        from alerts.engine import AlertRuleEngine
        from events.log import EVENT_LOG
        from outbox.services import analytics_log_rows_register
        from rule_sets.kinds import RuleSetKind, rule_set_kind_register
        from rule_sets.models import KIND_ALERTS

        checks.register(alert_rules_check)
        checks.register(fast_path_middleware_check)
        rule_set_kind_register(
            RuleSetKind(
                name=KIND_ALERTS,
                compile=AlertRuleEngine.from_source,
                default_path=lambda: settings.ALERT_RULES_PATH,
                replay=alerts_replay,
            )
        )
        analytics_log_rows_register(
            log=EVENT_LOG, sql=ALERT_LOG_ROWS_SQL, loader=alert_records_load
        )
