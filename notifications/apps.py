from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Imported here: the check loads the configuration and the handler's modules need the
        # app registry ready.
        from events.log import PRODUCT_EVENT_LOG
        from midnite_test.check_tags import ACTIVE_RULES
        from notifications.backtest import notification_replay
        from notifications.checks import (
            notification_active_version_check,
            notification_config_check,
            notification_delivery_check,
            notification_lease_check,
        )
        from notifications.config import notification_rule_set_compile
        from notifications.evaluation import notification_messages_handle
        from outbox.contracts import CONSUMER_NOTIFICATIONS
        from outbox.services import outbox_consumer_register
        from rule_sets.kinds import RuleSetKind, rule_set_kind_register
        from rule_sets.models import KIND_NOTIFICATIONS

        checks.register(notification_config_check)
        checks.register(notification_active_version_check, checks.Tags.database, ACTIVE_RULES)
        checks.register(notification_lease_check)
        checks.register(notification_delivery_check, deploy=True)
        outbox_consumer_register(
            consumer=CONSUMER_NOTIFICATIONS,
            handler=notification_messages_handle,
            logs=[PRODUCT_EVENT_LOG],
        )
        rule_set_kind_register(
            RuleSetKind(
                name=KIND_NOTIFICATIONS,
                compile=notification_rule_set_compile,
                default_path=lambda: settings.NOTIFICATION_RULES_PATH,
                replay=notification_replay,
            )
        )
