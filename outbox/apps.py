from django.apps import AppConfig
from django.core import checks


class OutboxConfig(AppConfig):
    name = "outbox"
    verbose_name = "Outbox and analytics relay"

    def ready(self) -> None:
        from outbox.checks import horizon_visibility_check

        checks.register(horizon_visibility_check, checks.Tags.database)
