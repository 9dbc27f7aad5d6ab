from django.core.management.base import BaseCommand, CommandError

from outbox.clickhouse.migrate import clickhouse_migrate
from outbox.exceptions import OutboxError


class Command(BaseCommand):
    help = "Apply the pending ClickHouse migrations (outbox/clickhouse/migrations/)."

    def handle(self, *args, **options) -> None:
        try:
            applied = clickhouse_migrate()
        except OutboxError as exc:
            raise CommandError(str(exc)) from exc
        for version in applied:
            self.stdout.write(f"Applied {version}")
        if not applied:
            self.stdout.write("No ClickHouse migrations to apply.")
