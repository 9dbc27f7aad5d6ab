from django.apps import AppConfig
from django.core import checks


class OutboxConfig(AppConfig):
    name = "outbox"
    verbose_name = "Outbox and analytics relay"

    def ready(self) -> None:
        from outbox.checks import horizon_visibility_check
        from outbox.services import outbox_wake_task_register
        from outbox.tasks import outbox_process_many_task

        checks.register(horizon_visibility_check, checks.Tags.database)
        outbox_wake_task_register(task=outbox_process_many_task)
